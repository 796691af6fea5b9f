import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.env import child_environment
from vaxreg.core import bench

DEFAULT_URL = bench.DEFAULT_PG_URL.rsplit("/", 1)[0] + "/vaxreg_api_conformance"
PUBLIC = "^/api/public/"
# The run's quotas: every request comes from an address of its own, but the phone quota counts one
# citizen's complaints, and schemathesis sends the same few phones many times.
RUN_LIMITS = "address=1000000/h,subnet=1000000/h,phone=1000000/d"


@dataclass(frozen=True)
class Role:
    name: str  # the demo account's role, or "anonymous" for the public endpoints
    staff: bool  # staff roles run every operation but the public ones, anonymous only those


ROLES = [
    Role("anonymous", staff=False),
    Role("facility", staff=True),
    Role("commune", staff=True),
    Role("province", staff=True),
]

# Where the API's rules refuse a request its schema cannot call invalid, the check that valid requests are
# accepted also expects the status of that refusal; the hooks' own check then makes sure the body names a
# refusal by the rules and not an invalid input, so a schema that says less than the server is still caught.
# - staff operations: 400 ``refused`` — the record's state or rules (a closed case, a date after today, a
#   facility code that is not in the list, a role that may not import for that facility);
# - the public complaint and its proof files: 422 ``refused`` — the intake's rules (codes that must be in
#   the reference lists and agree with each other, dates up to today, the numbering plan of phones, the
#   content of a photo or PDF).
STAFF_REFUSAL = "400"
PUBLIC_RULES = ("POST /api/public/complaints", "POST /api/public/complaints/{tracking_code}/attachments")
DEFAULT_EXPECTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]


def schemathesis_config(
    *, role: Role, max_examples: int, max_time: int, seed: int | None, session_id: str | None
) -> str:
    lines = [
        f"max-time = {max_time}",
        "workers = 1",  # threads: Python 3.11's ast module is not safe in them (hypothesis parses lambdas)
        'hooks = "vaxreg.api.conformance_hooks"',
        *([f"seed = {seed}"] if seed is not None else []),
        "",
        "[cache]",
        "enabled = false",  # nothing carried from one run to the next, nor written into the project
        "",
        "[generation]",
        f"max-examples = {max_examples}",
        'database = "none"',
        "",
        "[checks]",
        "enabled = true",
        "",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps([*DEFAULT_EXPECTED, *([STAFF_REFUSAL] if role.staff else [])])}",
    ]
    if session_id is not None:
        # The session is the API's declared security scheme: schemathesis sends it, and leaves it out where it
        # checks that the API refuses a request without it (the CSRF token comes from the hooks).
        lines += ["", "[auth.openapi.SessionAuth]", f'api_key = "{session_id}"']
    if not role.staff:
        for name in PUBLIC_RULES:
            lines += [
                "",
                "[[operations]]",
                f'include-name = "{name}"',
                f"checks.positive_data_acceptance.expected-statuses = {json.dumps([*DEFAULT_EXPECTED, '422'])}",
            ]
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = (
        "Check the JSON API against its own OpenAPI document with schemathesis, through the real server, as "
        "citizens and staff reach it. Creates a scratch database (a temporary SQLite file by default; --db "
        f"postgres: --database-url, else VAXREG_BENCH_DATABASE_URL, else {DEFAULT_URL}; dropped and created "
        "anew, and dropped at the end), fills it with the demo's world for Huế (--persons people imported "
        "through the import pipeline, their verification cases, a few complaints, one account per role), "
        "then starts gunicorn on a free loopback port and runs schemathesis once per role: anonymous on the "
        "public complaint endpoints, then the facility, the commune health station and the province on the "
        "staff endpoints, each logged in through the login page (session cookie, and the CSRF token that "
        "writes need). Every check runs (server errors, status codes, content types, response schemas, "
        "invalid requests refused, valid requests accepted, authentication, methods...), in every phase "
        "(the document's examples, coverage of each constraint, fuzzing, and stateful sequences that reuse "
        "the ids answers give back), up to --max-examples cases per operation and --max-time seconds per "
        f"role. The server runs with VAXREG_COMPLAINT_LIMITS={RUN_LIMITS} and believes X-Forwarded-For from "
        "loopback, and each request comes from an address of its own, so the anti-flood quotas stay on as "
        "they are in production. Prints what schemathesis ran (operations, cases, failures) per role and "
        "exits 1 on any server error or conformance failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
        parser.add_argument(
            "--database-url", default="", help="PostgreSQL URL of the scratch database to create"
        )
        parser.add_argument("--persons", type=int, default=300, help="people in the demo world (default 300)")
        parser.add_argument(
            "--max-examples", type=int, default=20, help="cases per operation and phase (default 20)"
        )
        parser.add_argument("--max-time", type=int, default=45, help="seconds per role (default 45)")
        parser.add_argument(
            "--roles", default=",".join(r.name for r in ROLES), help="roles to run, comma-separated"
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="schemathesis's random seed, to repeat a run"
        )
        parser.add_argument(
            "--keep",
            default="",
            help="folder to keep schemathesis's reports and the answers in (default: none)",
        )
        parser.add_argument("--phase", choices=["setup"], default="", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["phase"] == "setup":
            self.stdout.write(json.dumps(_setup(persons=options["persons"])))
            return
        unknown = set(options["roles"].split(",")) - {r.name for r in ROLES}
        if unknown:
            raise CommandError(f"unknown roles: {', '.join(sorted(unknown))}")
        try:
            import schemathesis  # noqa: F401
        except ImportError:
            raise CommandError(
                "schemathesis is a development dependency: run `uv sync` (with the dev group)"
            ) from None
        results = conformance_run(options, say=self.stdout.write)
        self.stdout.write(_summary(results))
        if any(not r["passed"] for r in results):
            raise CommandError("the API does not conform to its OpenAPI document (see above)")


def _setup(*, persons: int) -> dict[str, Any]:
    """In the scratch database: the schema, and the demo's world with one account per role."""
    from vaxreg.complaints.models import Complaint
    from vaxreg.web.management.commands.demo import demo_setup

    call_command("migrate", verbosity=0)
    accounts = demo_setup(persons=persons, say=lambda text: print(text, file=sys.stderr))
    return {
        "accounts": {a.role: {"username": a.username, "password": a.password} for a in accounts},
        "complaints": list(Complaint.objects.values("tracking_code", "phone")),
    }


def _login(base: str, username: str, password: str) -> tuple[str, str]:
    """(session id, CSRF token) of a login through the login page, as a browser does it. The cookies are
    carried by hand: over plain HTTP on loopback a client keeps back a cookie marked Secure."""
    import requests

    page = requests.get(f"{base}/login/", timeout=30)
    page.raise_for_status()
    token = str(page.cookies["csrftoken"])
    response = requests.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        cookies={"csrftoken": token},
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302 or "sessionid" not in response.cookies:
        raise CommandError(f"logging in as {username} failed ({response.status_code})")
    return str(response.cookies["sessionid"]), str(response.cookies.get("csrftoken", token))


def _document(base: str, folder: Path, sessions: list[str]) -> Path:
    """The OpenAPI document the server serves, read anonymously or, where its reading needs an account,
    with the first staff session it opens to; kept as a file that every role's run reads the same."""
    import requests

    for session_id in ["", *sessions]:
        response = requests.get(
            f"{base}/api/openapi.json", cookies={"sessionid": session_id} if session_id else None, timeout=60
        )
        if response.status_code == 200:
            path = folder / "openapi.json"
            path.write_bytes(response.content)
            return path
    raise CommandError(f"the server does not give its OpenAPI document ({response.status_code})")


def _schemathesis(
    *,
    base: str,
    document: Path,
    role: Role,
    folder: Path,
    options: dict[str, Any],
    cookie: tuple[str, str] | None,
    complaints: list[dict[str, str]],
) -> dict[str, Any]:
    config = folder / f"schemathesis-{role.name}.toml"
    config.write_text(
        schemathesis_config(
            role=role,
            max_examples=options["max_examples"],
            max_time=options["max_time"],
            seed=options["seed"],
            session_id=cookie[0] if cookie else None,
        ),
        encoding="utf-8",
    )
    report = folder / f"report-{role.name}.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", str(document), "--url", base,
        "--checks", "all", "--report", "json", "--report-json-path", str(report), "--no-color",
        "--exclude-path-regex" if role.staff else "--include-path-regex", PUBLIC,
    ]  # fmt: skip
    tally = folder / f"tally-{role.name}.txt"
    env = child_environment(
        VAXREG_CONFORMANCE_URL=base,
        VAXREG_CONFORMANCE_CSRF=cookie[1] if cookie else "",
        VAXREG_CONFORMANCE_COMPLAINTS=json.dumps(complaints),
        VAXREG_CONFORMANCE_TALLY=str(tally),
    )
    started = time.monotonic()
    completed = subprocess.run(command, env=env, check=False, cwd=folder)
    return {
        "role": role.name,
        "passed": completed.returncode == 0,
        "seconds": time.monotonic() - started,
        **_report_counts(report),
        **_tally(tally),
    }


def _report_counts(report: Path) -> dict[str, Any]:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"operations": 0, "cases": 0, "failures": 0, "errors": 0}
    return {
        "operations": data["operations"]["tested"],
        "cases": data["test_cases"]["generated"],
        "failures": sum(group["count"] for group in data["failures"]),
        "errors": sum(group["count"] for group in data["errors"]),
    }


def _tally(path: Path) -> dict[str, Any]:
    """Answers by operation and status (which operations the run reached past their ids and rules), and the
    refusals of valid requests by the API's rules, by operation and message."""
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    refusals: Counter[tuple[str, str]] = Counter()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            answer = json.loads(line)
            statuses[answer["operation"]][answer["status"]] += 1
            if "refusal" in answer:
                refusals[(answer["operation"], answer["refusal"])] += 1
    return {"statuses": statuses, "refusals": refusals}


def conformance_run(options: dict[str, Any], say: Any) -> list[dict[str, Any]]:
    roles = [r for r in ROLES if r.name in options["roles"].split(",")]
    with tempfile.TemporaryDirectory(prefix="vaxreg-api-conformance-") as tmp:
        folder = Path(tmp)
        url = bench.scratch_database(
            db=options["db"],
            folder=str(folder),
            database_url=options["database_url"],
            default_pg_url=DEFAULT_URL,
        )
        env = bench.server_environment(
            url=url,
            folder=str(folder),
            VAXREG_COMPLAINT_LIMITS=RUN_LIMITS,
            VAXREG_TRUSTED_PROXIES="127.0.0.1/32",
        )
        server = None
        try:
            started = time.monotonic()
            world = bench.run_phase(
                ["api", "conformance", "--phase", "setup", "--persons", str(options["persons"])], env=env
            )
            accounts = world["accounts"]
            say(
                f"World ready ({options['db']}, {options['persons']} people) in {time.monotonic() - started:.0f} s"
            )
            (folder / "static").mkdir(exist_ok=True)  # WhiteNoise's folder: collectstatic is not needed here
            port = bench.free_port()
            base = f"http://127.0.0.1:{port}"
            server = bench.server_start(env=env, port=port, workers=2, threads=4)
            cookies = {
                role.name: _login(base, accounts[role.name]["username"], accounts[role.name]["password"])
                for role in roles
                if role.staff
            }
            document = _document(base, folder, [session_id for session_id, _ in cookies.values()])
            results = []
            for role in roles:
                cookie = cookies.get(role.name)
                say(
                    f"\n=== schemathesis as {role.name} ({'staff' if role.staff else 'public'} operations) ==="
                )
                results.append(
                    _schemathesis(
                        base=base,
                        document=document,
                        role=role,
                        folder=folder,
                        options=options,
                        cookie=cookie,
                        complaints=world["complaints"],
                    )
                )
        finally:
            if options["keep"]:
                keep = Path(options["keep"])
                keep.mkdir(parents=True, exist_ok=True)
                for kept in [
                    *folder.glob("report-*.json"),
                    *folder.glob("tally-*.txt"),
                    *folder.glob("*.toml"),
                ]:
                    shutil.copy(kept, keep / kept.name)
            if server is not None:
                bench.server_stop(server)
            if options["db"] == "postgres":
                bench.drop_pg_database(url)
    return results


def _summary(results: list[dict[str, Any]]) -> str:
    lines = ["", "API conformance (schemathesis, every check; answers by status per operation):"]
    for r in results:
        verdict = "passed" if r["passed"] else "FAILED"
        lines.append(
            f"  {r['role']}: {verdict}: {r['operations']} operations, {r['cases']} cases generated, "
            f"{r['failures']} failures, {r['errors']} errors ({r['seconds']:.0f} s)"
        )
        for operation, statuses in sorted(r["statuses"].items()):
            if set(statuses) == {405}:
                continue  # a method the operation does not have (schemathesis checks the answer says so)
            counts = ", ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
            lines.append(f"    {operation}: {counts}")
        if r["refusals"]:
            lines.append("    valid requests refused by the API's rules (beyond its schema), most frequent:")
            for (operation, message), n in r["refusals"].most_common(12):
                lines.append(f"      {n}× {operation}: {message[:110]}")
    operations = {op for r in results for op, statuses in r["statuses"].items() if set(statuses) != {405}}
    total_cases = sum(r["cases"] for r in results)
    total_failures = sum(r["failures"] + r["errors"] for r in results)
    lines.append(
        f"  in all: {len(operations)} operations, {total_cases} cases, {total_failures} failures or errors "
        f"({sum(r['seconds'] for r in results):.0f} s)"
    )
    return "\n".join(lines) + "\n"
