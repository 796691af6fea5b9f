"""The environment VaxReg reads, in one place: every ``VAXREG_*`` variable with its type, its default and
what it does. It is read once, when the settings load (``ENV``); the code reads Django's settings, never
``os.environ`` (a test in vaxreg/core/tests/test_environment.py holds the tree to that).

The README's table of variables is this module's own (``python -m config.env`` prints it).
"""

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from django.core.exceptions import ImproperlyConfigured

PREFIX = "VAXREG_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _var(default: Any, doc: str, *, internal: bool = False) -> Any:
    """A variable: its default when unset (a callable is called at reading), what it does, and whether
    VaxReg sets it itself for the processes it starts (``internal``) rather than an operator."""
    metadata = {"doc": doc, "internal": internal}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Env:
    """One field per variable: ``database_url`` is ``VAXREG_DATABASE_URL``."""

    # --- the process and its data ---------------------------------------------------------------------
    database_url: str = _var(
        "", "database URL, e.g. `postgres://user:pass@host:5432/vaxreg` (unset: the SQLite file "
        "`vaxreg.sqlite3` in the var folder)"
    )  # fmt: skip
    db_conn_max_age: int = _var(
        0, "seconds a database connection is kept for the next request (`0`: one per request)"
    )
    secret_key: str = _var(
        "", "Django secret key, the same for every web and worker process; in production the server and the "
        "worker refuse to start without it (the demo and a development server keep a random one in "
        "`secret_key` in the var folder)"
    )  # fmt: skip
    debug: bool = _var(
        False, "`1` for development: tracebacks, cookies also over plain HTTP, no secret key needed; without "
        "it the settings are production ones"
    )  # fmt: skip
    allowed_hosts: tuple[str, ...] = _var(
        ("127.0.0.1", "localhost"), "comma-separated host names the server answers to"
    )
    var_dir: Path = _var(
        lambda: (Path.cwd() / "var").resolve(),
        "folder for the SQLite file, uploads, reports, keys and collected static files (unset: `./var`)",
    )
    log_level: str = _var("WARNING", "level of the log written to standard error")
    # --- over several servers (Citus) -----------------------------------------------------------------
    citus_distribute: bool = _var(
        False, "Citus: `1` distributes the per-person tables by their home province when `migrate` runs "
        "(`vaxreg citus distribute` does it on demand); being built, see docs/scale.md"
    )  # fmt: skip
    # --- imports --------------------------------------------------------------------------------------
    import_key_checks: str = _var(
        "importer", "PostgreSQL: `importer` checks an import's foreign keys once per parent row (needs "
        "`GRANT SET ON PARAMETER session_replication_role`, else falls back), `database` leaves them to "
        "per-row triggers"
    )  # fmt: skip
    import_defer_indexes: bool = _var(
        True, "PostgreSQL: `1` lets an import into empty person and dose tables (a first load) build their "
        "secondary indexes once at its end, holding the tables' exclusive lock until it commits; `0` keeps "
        "them up to date row by row"
    )  # fmt: skip
    import_max_upload_bytes: int = _var(
        512 << 20, "the largest file the upload page and the API take (512 MiB)"
    )
    import_max_unpacked_bytes: int = _var(
        2 << 30, "the most an `.xlsx` may unpack to, all its parts together (as its ZIP declares them; a "
        "part holding more is refused) (2 GiB)"
    )  # fmt: skip
    import_max_part_bytes: int = _var(
        3 << 29, "the most one part of an `.xlsx` (a sheet: about 800 MB for 1,000,000 rows) may unpack to; "
        "also the memory an `.xls` may take to read (1.5 GiB)"
    )  # fmt: skip
    import_max_shared_strings_bytes: int = _var(
        1 << 30, "the memory an `.xlsx`'s shared-strings table may take (it is held while the sheet is "
        "read; about 80 bytes plus 2 per character of each entry) (1 GiB)"
    )  # fmt: skip
    import_max_row_chars: int = _var(
        1_000_000, "the characters of one row of a file (all its cells; a CSV line)"
    )
    import_recheck_inline_max: int = _var(
        50_000, "an import touching up to this many persons re-checks them (rules, cases) in its own "
        "transaction; a larger one (a province's first load) queues a background re-scan of its provinces "
        "when it commits"
    )  # fmt: skip
    linkage_engine: str = _var(
        "duckdb", "where record linkage runs: `duckdb` (embedded, one machine) or `spark` (a Spark cluster)"
    )
    spark_master: str = _var(
        "local[2]", "with `VAXREG_LINKAGE_ENGINE=spark` or `--engine spark`: the Spark master record linkage "
        "runs on (`local[2]`: Spark inside the process on two cores; `spark://host:7077`: a cluster)"
    )  # fmt: skip
    linkage_inline_max: int = _var(
        10_000, "an import or correction touching up to this many persons links them against everyone in "
        "its own transaction; a larger one queues a background linkage task when it commits"
    )  # fmt: skip
    linkage_on_import: bool = _var(
        True, "`0`: imports and corrections do not link persons (run `vaxreg linkage run`)"
    )
    tasks_immediate: bool | None = _var(
        None, "`1`: background tasks run at once in the process that queues them, `0`: in the database "
        "for `vaxreg worker` (unset: at once in the tests only)"
    )  # fmt: skip
    # --- the police screen ----------------------------------------------------------------------------
    registry_url: str = _var("", "address of the population-registry service the police screen can query")
    registry_timeout: float = _var(10.0, "seconds to wait for the registry")
    # --- citizens: complaints and messages ------------------------------------------------------------
    complaint_limits: str = _var(
        "", "quotas of the public complaint form and API: submissions per address, per /24-or-/64 subnet, "
        "and accepted complaints per phone (per `s`, `m`, `h`, `d` or e.g. `15m`) (unset: "
        "`address=20/h,subnet=100/h,phone=3/d`)"
    )  # fmt: skip
    intake_cache_seconds: float | None = _var(
        None, "seconds each web process keeps a facility and the vaccine catalogue looked up by the public "
        "complaint intake (`0`: always ask the database) (unset: `60`; `0` in the tests)"
    )  # fmt: skip
    message_backend: str = _var(
        "", "how SMS and e-mail to citizens leave: `console` (printed; the demo), `smtp`, `memory` (kept "
        "for the tests) (unset: `console`; `memory` in the tests)"
    )  # fmt: skip
    smtp_host: str = _var("localhost", "the SMTP server of the `smtp` backend")
    smtp_port: int = _var(25, "its port")
    smtp_user: str = _var("", "its user")
    smtp_password: str = _var("", "its password")
    smtp_tls: bool = _var(False, "`1`: STARTTLS to it")
    mail_from: str = _var("VaxReg <no-reply@vaxreg.invalid>", "the sender of the messages")
    sms_email_domain: str = _var(
        "", "with `smtp`: SMS go to `<digits>@this domain` (an e-mail-to-SMS gateway)"
    )
    # --- staff logins and sessions --------------------------------------------------------------------
    trusted_proxies: tuple[str, ...] = _var(
        (), "comma-separated proxy networks whose `X-Forwarded-For` (rate limits, tickets, login throttle "
        "and audit) and `X-Forwarded-Proto` (HTTPS) are believed"
    )  # fmt: skip
    session_idle_minutes: int = _var(
        480, "minutes after its last request at which a staff session ends (8 hours)"
    )
    login_limits: str = _var(
        "", "failed logins (wrong passwords or codes) after which even the right password is refused: per "
        "account and per client address, counted over the current and the previous window (per `s`, `m`, "
        "`h`, `d` or e.g. `15m`) (unset: `account=20/15m,address=20/15m`)"
    )  # fmt: skip
    second_factor: bool = _var(
        False, "`1`: national, province and admin accounts must log in with a TOTP code after the password "
        "(others may opt in)"
    )  # fmt: skip
    # --- HTTPS ----------------------------------------------------------------------------------------
    https: bool = _var(
        False, "`1`: the site is reached over HTTPS (directly or through a TLS proxy); in production, plain "
        "HTTP is redirected to HTTPS (except `/healthz`) and HSTS is sent"
    )  # fmt: skip
    hsts_seconds: int = _var(
        31_536_000, "with `VAXREG_HTTPS=1`: how long browsers keep to HTTPS (HSTS `max-age`, subdomains "
        "included) (a year)"
    )  # fmt: skip
    hsts_preload: bool = _var(
        False, "`1` adds `preload` to HSTS, for a domain its owner submits to the browsers' preload list"
    )
    # --- certificates ---------------------------------------------------------------------------------
    dcc_alg: str = _var("PS256", "the algorithm that signs new certificates (`PS256` or `ES256`)")
    dcc_ps256_key: str = _var(
        "", "PEM file of the PS256 signing key (unset: `dcc-keys/ps256-key.pem` in the var folder, as "
        "`vaxreg certs keygen` writes it)"
    )  # fmt: skip
    dcc_ps256_cert: str = _var("", "PEM file of its certificate (unset: `dcc-keys/ps256-cert.pem`)")
    dcc_es256_key: str = _var("", "PEM file of the ES256 signing key (unset: `dcc-keys/es256-key.pem`)")
    dcc_es256_cert: str = _var("", "PEM file of its certificate (unset: `dcc-keys/es256-cert.pem`)")
    dcc_ps256_key_pem: str = _var("", "the PEM text of the PS256 key, instead of a file")
    dcc_ps256_cert_pem: str = _var("", "the PEM text of its certificate, instead of a file")
    dcc_es256_key_pem: str = _var("", "the PEM text of the ES256 key, instead of a file")
    dcc_es256_cert_pem: str = _var("", "the PEM text of its certificate, instead of a file")
    dcc_trust_dir: str = _var(
        "", "folder of extra PEM certificates that keep old keys verifying after a rotation"
    )
    # --- record linkage -------------------------------------------------------------------------------
    linkage_auto_merge: bool = _var(
        False, "`1`: a suspected pair of records above `VAXREG_LINKAGE_AUTO_MERGE_ABOVE` that share a valid "
        "CCCD is merged without review (each merge can be undone and is listed for audit); `0`: every pair "
        "waits for a reviewer"
    )  # fmt: skip
    linkage_auto_merge_above: float = _var(
        0.999, "with `VAXREG_LINKAGE_AUTO_MERGE=1`: the match probability a pair must exceed to be merged "
        "without review"
    )  # fmt: skip
    # --- development and tests ------------------------------------------------------------------------
    bench_database_url: str = _var(
        "", "the PostgreSQL database the `vaxreg bench` verbs drop and create (unset: `vaxreg_bench` on "
        "127.0.0.1)"
    )  # fmt: skip
    bench_citus_url: str = _var(
        "", "the database on a Citus coordinator that `vaxreg bench ... --db citus` drops and creates (unset: "
        "`vaxreg_bench` on the local cluster, 127.0.0.1:9700)"
    )  # fmt: skip
    test_sqlite_file: bool = _var(
        False, "`1`: the tests' SQLite database is a file in the var folder, not in memory"
    )
    chromium: str = _var("/usr/bin/chromium", "the Chromium the browser tests drive")
    testing: bool = _var(
        False,
        "the test settings set it, so that the processes the tests start run as tests too",
        internal=True,
    )
    conformance_url: str = _var("", "the server `api conformance` runs schemathesis against", internal=True)
    conformance_csrf: str = _var("", "the CSRF token of the role's session in that run", internal=True)
    conformance_complaints: str = _var("[]", "the world's complaints (JSON) that run follows", internal=True)
    conformance_tally: str = _var("", "the file that run tallies its answers in", internal=True)

    @property
    def production(self) -> bool:
        """Neither a development run nor the tests: the rules of the Production section of the README."""
        return not self.debug and not self.testing


def _parse(name: str, kind: Any, text: str, default: Any) -> Any:
    if get_origin(kind) in (Union, UnionType):  # X | None: unset is None, anything set is an X
        (kind,) = (arg for arg in get_args(kind) if arg is not NoneType)
        default = None
    value = text.strip()
    try:
        if kind is bool:
            # A flag is on for 1/true/yes/on; a flag on by default is off only for 0/false/no/off.
            return value.lower() not in _FALSE if default is True else value.lower() in _TRUE
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        if kind is Path:
            return Path(value).resolve()
        if get_origin(kind) is tuple:
            return tuple(item.strip() for item in value.split(",") if item.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}: {text!r} is not a {kind.__name__}") from None
    return text


def env_read(environ: Mapping[str, str]) -> Env:
    """The variables of ``environ``, typed; an unset variable keeps its default."""
    kinds = get_type_hints(Env)
    values: dict[str, Any] = {}
    for var in fields(Env):
        name = PREFIX + var.name.upper()
        if name in environ:
            default = var.default if var.default is not MISSING else None
            values[var.name] = _parse(name, kinds[var.name], environ[name], default)
    return Env(**values)


ENV = env_read(os.environ)


def child_environment(
    *, drop: Iterable[str] = (), drop_prefixes: tuple[str, ...] = (), **variables: str
) -> dict[str, str]:
    """The environment for a process VaxReg starts (gunicorn, a worker, a benchmark's phase): this
    process's own (PATH, HOME, the VAXREG_* variables), without the names in ``drop`` or starting with
    ``drop_prefixes``, with ``variables`` set."""
    dropped = set(drop)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not (drop_prefixes and k.startswith(drop_prefixes))
    }
    env.update(variables)
    return env


def settings_module_default(module: str = "config.settings") -> None:
    """``DJANGO_SETTINGS_MODULE`` unless the caller's environment names one (manage.py, wsgi, the CLI)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", module)


def autoreload_child() -> bool:
    """Whether this process is the one Django's autoreloader started to do the work (not the watcher)."""
    from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

    return os.environ.get(DJANGO_AUTORELOAD_ENV) == "true"


_TYPE_NAMES = {bool: "flag", int: "integer", float: "number", str: "text", Path: "folder", tuple: "list"}


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, tuple):
        return ",".join(default)
    return "" if default is None else str(default)


def env_table() -> str:
    """The README's table of variables (Markdown), in the order above."""
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    kinds = get_type_hints(Env)
    for var in fields(Env):
        kind = kinds[var.name]
        alternatives = get_args(kind) if get_origin(kind) in (Union, UnionType) else (kind,)
        type_name = " or ".join(
            "unset" if a is NoneType else _TYPE_NAMES.get(get_origin(a) or a, "text") for a in alternatives
        )
        shown = _shown(var.default) if var.default is not MISSING else ""
        default = f"`{shown}`" if shown else ""
        doc = var.metadata["doc"] + (
            " (set by VaxReg itself, not by an operator)" if var.metadata["internal"] else ""
        )
        rows.append(f"| `{PREFIX}{var.name.upper()}` | {type_name} | {default} | {doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(env_table() + "\n")
