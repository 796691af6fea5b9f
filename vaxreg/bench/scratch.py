"""What every `vaxreg bench ...` command shares: a scratch database, and phases run as child processes.

A benchmark runs its phases in fresh processes pointed at a scratch database (a temporary SQLite file, or
the PostgreSQL database of VAXREG_BENCH_DATABASE_URL, dropped and created anew), so that nothing measured
depends on what an earlier phase left in memory.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from config.env import child_environment
from vaxreg.core.database import database_drop
from vaxreg.core.tables import header_key

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/vaxreg_bench"
# The local Citus cluster's coordinator (`vaxreg citus up`); the scratch database is made there with the
# per-person tables distributed.
DEFAULT_CITUS_URL = "postgres://postgres@127.0.0.1:9700/vaxreg_bench"


def recreate_pg_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        database_drop(admin, name)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def scratch_database(
    *, db: str, folder: str, database_url: str = "", default_pg_url: str = DEFAULT_PG_URL
) -> str:
    """The URL of a new scratch database: a SQLite file in ``folder``, or the PostgreSQL database of
    ``database_url`` (else VAXREG_BENCH_DATABASE_URL, else ``default_pg_url``), dropped and created anew."""
    if db != "postgres":
        return f"sqlite:///{folder}/scratch.sqlite3"
    url = database_url or settings.VAXREG_BENCH_DATABASE_URL or default_pg_url
    recreate_pg_database(url)
    return url


def server_environment(*, url: str, folder: str, **variables: str) -> dict[str, str]:
    """This process's environment for a server on a scratch database: production settings (not the test
    suite's), its files in ``folder``, a fresh secret key, loopback only, and the ``variables`` given."""
    env = child_environment(
        drop={"VAXREG_TESTING", "VAXREG_TASKS_IMMEDIATE"},
        DJANGO_SETTINGS_MODULE="config.settings", VAXREG_DATABASE_URL=url, VAXREG_VAR_DIR=folder,
        VAXREG_SECRET_KEY=os.urandom(24).hex(), VAXREG_ALLOWED_HOSTS="127.0.0.1",
    )  # fmt: skip
    env.update(variables)
    return env


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        database_drop(admin, name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_start(
    *, env: dict[str, str], port: int, workers: int, threads: int, extra: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """gunicorn (config.wsgi, gthread workers) on a loopback port, once it answers /healthz."""
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--preload", "--no-control-socket", "--log-level", "warning", "--keep-alive", "30", *extra,
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    server_stop(server)
    raise CommandError("the server did not start")


def server_stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_in_scratch_database(*, db: str, args: list[str]) -> str:
    """Run ``vaxreg ARGS`` against a new scratch database of kind ``db``; its standard output."""
    with tempfile.TemporaryDirectory(prefix="vaxreg-bench-") as folder:
        env = child_environment(VAXREG_VAR_DIR=folder, VAXREG_LOG_LEVEL="ERROR")
        if db == "postgres":
            url = settings.VAXREG_BENCH_DATABASE_URL or DEFAULT_PG_URL
            recreate_pg_database(url)
            env["VAXREG_DATABASE_URL"] = url
        elif db == "citus":
            url = settings.VAXREG_BENCH_CITUS_URL or DEFAULT_CITUS_URL
            try:
                recreate_pg_database(url)
            except Exception as exc:  # noqa: BLE001 — any failure to reach it means the same to the user
                raise CommandError(
                    f"no Citus coordinator at {url.rsplit('/', 1)[0]}: run `vaxreg citus up` ({exc})"
                ) from exc
            env["VAXREG_DATABASE_URL"] = url
            env["VAXREG_CITUS_DISTRIBUTE"] = "1"
        else:
            env["VAXREG_DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        completed = subprocess.run(
            [sys.executable, "-m", "vaxreg.cli", *args],
            env=env,
            check=False,
            stdout=subprocess.PIPE,
            text=True,
        )
        if completed.returncode:
            raise CommandError(f"benchmark failed (exit {completed.returncode})")
        return completed.stdout.rstrip("\n")


def run_phase(args: list[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one phase (``vaxreg ARGS``) in a child process with ``env`` (by default this process's
    environment); the JSON object its last output line holds."""
    completed = subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", *args],
        env=child_environment() if env is None else env,
        check=False,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        sys.stderr.write(completed.stderr)
        raise CommandError(f"phase {' '.join(args[:4])} failed (exit {completed.returncode})")
    values: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return values


def scratch_launch(*, verb: str, options: dict[str, Any], keys: tuple[str, ...]) -> str:
    """Run ``vaxreg bench VERB --phase run`` with the options named by ``keys`` (and ``--json`` when asked)
    in a new scratch database of kind ``options["db"]``; its standard output."""
    if "provinces" in keys and options["provinces"] < 1:
        raise CommandError("--provinces: at least 1")
    args = ["bench", verb, "--phase", "run"]
    for key in (*keys, "db", "seed"):
        args += [f"--{key.replace('_', '-')}", str(options[key])]
    if options.get("json"):
        args.append("--json")
    return run_in_scratch_database(db=options["db"], args=args)


def beside_single_server(
    *,
    verb: str,
    options: dict[str, Any],
    keys: tuple[str, ...],
    count: str,
    figure: str,
    higher_is_better: bool,
    baseline: str,
) -> dict[str, Any]:
    """``vaxreg bench VERB`` run twice in one run, on a scratch database of the single PostgreSQL server and
    then on one of the local Citus cluster (persons and doses distributed); the same seed and options make the
    same data on both. The result: the cluster's ``count`` and ``figure``, the single server's ``figure`` as
    the baseline (described by ``baseline``), their ratio (the better one's share of the other's when the
    cluster is as good: Citus ÷ PostgreSQL for a rate, PostgreSQL ÷ Citus for a time), and both runs' JSON
    objects under ``"citus"`` and ``"postgres"``."""
    runs = {
        db: json.loads(scratch_launch(verb=verb, options={**options, "db": db, "json": True}, keys=keys))
        for db in ("postgres", "citus")
    }
    citus, single = runs["citus"], runs["postgres"]
    ratio = citus[figure] / single[figure] if higher_is_better else single[figure] / citus[figure]
    return {
        "db": "citus",
        count: citus[count],
        "provinces": options["provinces"],
        figure: citus[figure],
        "baseline": baseline,
        f"baseline_{figure}": single[figure],
        "ratio": round(ratio, 4),
        "citus": citus,
        "postgres": single,
    }


def scratch_world(*, persons: int, seed: int, file_name: str = "bench.csv", provinces: int = 1) -> Path:
    """Fill the (empty) scratch database this process points at with what every benchmark starts from —
    the tables, the administrative units, the vaccine catalogue and the facilities of Thừa Thiên Huế
    (province 46) — and write a synthetic dose file of ``persons`` persons there; the file's path.

    With ``provinces`` above 1 the persons are spread evenly over that many provinces (Huế and the next ones
    by code, each with its facilities), one file after the other in one file: on Citus, where each
    province's persons live on their own shards, a file of one province would measure one shard only.
    """
    from django.core.management import call_command
    from django.db import connection

    from vaxreg.places.models import Province
    from vaxreg.places.services import facilities_generate, reference_load
    from vaxreg.synth.services import synth_write
    from vaxreg.vaccinations.services import catalogue_load

    call_command("migrate", verbosity=0)
    reference_load(verbosity=0)
    catalogue_load()
    codes = ["46"]
    if provinces > 1:
        others = Province.objects.exclude(code="46").filter(communes__isnull=False).distinct()
        codes += list(others.order_by("code").values_list("code", flat=True)[: provinces - 1])
    path = Path(settings.VAR_DIR) / file_name
    for index, code in enumerate(codes):
        facilities_generate(province_code=code, seed=seed)
        share = persons // len(codes) + (1 if index < persons % len(codes) else 0)
        part = path if index == 0 else path.with_name(f"{path.stem}.{code}{path.suffix}")
        synth_write(out=part, persons=max(1, share), province_code=code, seed=seed)
        if part != path:
            with (
                part.open(encoding="utf-8-sig", newline="") as source,
                path.open("a", encoding="utf-8") as out,
            ):
                next(source)  # the header, written once by the first file
                out.writelines(source)
            part.unlink()
    connection.close()  # the phases open their own connections; SQLite must not be held here
    return path


def rows_hold_back(path: Path, later: Path, *, rows: int, seed: int, one_facility: bool = False) -> int:
    """Move ``rows`` dose rows from the file at ``path`` to ``later`` (with the header): a file that arrives
    after the others, holding second records of persons already imported as well as new persons. Drawn at
    random from every facility's rows, or with ``one_facility`` the first of the facility with the most
    rows (one facility's file, as facilities send them). The number of rows moved."""
    import collections
    import csv
    import random

    if rows <= 0:
        return 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [header_key(h) for h in next(reader)]
        column = next(
            i for i, h in enumerate(header) if h in (header_key("Mã cơ sở tiêm"), header_key("facility_code"))
        )
        counts = collections.Counter(row[column] for row in reader)
    total = sum(counts.values())
    if one_facility:
        busiest = counts.most_common(1)[0][0]
        chosen = set()
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for index, row in enumerate(reader):
                if row[column] == busiest:
                    chosen.add(index)
                    if len(chosen) == rows:
                        break
    else:
        chosen = set(random.Random(seed).sample(range(total), min(rows, total)))
    kept = path.with_suffix(".kept.csv")
    with (
        path.open(encoding="utf-8-sig") as source,
        kept.open("w", encoding="utf-8-sig") as first,
        later.open("w", encoding="utf-8-sig") as second,
    ):
        header_line = source.readline()
        first.write(header_line)
        second.write(header_line)
        for index, line in enumerate(source):
            (second if index in chosen else first).write(line)
    kept.replace(path)
    return len(chosen)


def page_timed(client: Any, url: str) -> tuple[float, int]:
    """One GET through the test client: its milliseconds and its number of queries (a page that does not
    answer 200 stops the benchmark)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise CommandError(f"GET {url} answered {response.status_code}")
    return elapsed, len(queries)


def busiest_commune() -> str:
    """The code of the commune where most persons live (a benchmark's station)."""
    from django.db.models import Count

    from vaxreg.people.models import Person

    busiest = (
        Person.objects.exclude(commune_id=None)
        .values("commune_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if busiest is None:
        raise CommandError("no person has a commune")
    return str(busiest["commune_id"])
