import argparse
import contextlib
import http.client
import itertools
import json
import signal
import sqlite3
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.bench.scratch import (
    DEFAULT_PG_URL,
    drop_pg_database,
    free_port,
    run_phase,
    scratch_database,
    server_environment,
    server_start,
    server_stop,
)
from vaxreg.core.i18n import both_languages

DEFAULT_URL = DEFAULT_PG_URL.rsplit("/", 1)[0] + "/vaxreg_bench_complaints"
TICKET_PATH = "/api/public/complaints/ticket"
SUBMIT_PATH = "/api/public/complaints"
BASELINE_PATH = "/healthz"
PROVINCE = "46"  # Huế; its CCCD prefix (old province code) is 046
TARGET_RPS = 200
TARGET_P99_MS = 250
# The load comes from one address: without these the per-address quota would refuse it after 20.
BENCH_LIMITS = "address=100000000/h,subnet=100000000/h,phone=100000000/d"

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ"]
_GIVEN = {"F": ["Thị Hoa", "Thị Lan", "Ngọc Anh", "Thu Thảo", "Thị Mai"], "M": ["Văn An", "Minh Tuấn", "Hữu Phúc", "Văn Nam", "Quốc Bảo"]}  # fmt: skip
_MOBILE_PREFIXES = "0134678"  # 090, 091, 093, 094, 096, 097, 098: every one a mobile network's


class Command(BaseCommand):
    help = (
        "Measure the public complaint API through the real server, as citizens reach it. Creates a scratch "
        f"database (PostgreSQL by default: --database-url, else VAXREG_BENCH_DATABASE_URL, else {DEFAULT_URL}; "
        "or --db sqlite, a temporary file), migrates it, loads the reference data and Huế's facilities, then "
        "starts gunicorn (config.wsgi) on a free loopback port: --workers processes (default 2) of the "
        "gthread worker class with --threads each (default 4). gthread keeps HTTP connections alive, so the "
        "load generator does not pay a TCP handshake per request, and its threads let a worker answer while "
        "another request of it waits for the database. The load generator is --concurrency threads (default "
        "8) in this process, each with one keep-alive connection (http.client), bodies prepared beforehand, "
        "so it takes little of the CPU the server needs. Each submission is what a citizen's app does: GET "
        f"{TICKET_PATH}, then POST {SUBMIT_PATH} with a distinct person (valid CCCD, mobile number, facility, "
        "one claimed dose) → 201; the workers keep their database connections (--conn-max-age). Before "
        "measuring, 25 health checks and up to 4 submissions per client thread warm the workers up (each loads "
        "the URLs and the API's modules on its first requests). Throughput (rps) counts completed "
        "submissions per second; p50/p99 are "
        f"the POSTs' latencies. The baseline is the same generator against GET {BASELINE_PATH} of the same "
        "server (no database): baseline_rps requests per second, ratio = rps ÷ baseline_rps. All the load "
        f"comes from one address, so the server runs with VAXREG_COMPLAINT_LIMITS={BENCH_LIMITS}. Targets on "
        f"a 2-core machine: ≥ {TARGET_RPS} submissions/s and p99 ≤ {TARGET_P99_MS} ms. The server is "
        "stopped and the scratch database dropped at the end, also on Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--submissions", type=int, default=20_000, help="complaints to submit (default 20,000)"
        )
        parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
        parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
        parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
        parser.add_argument(
            "--database-url", default="", help="PostgreSQL URL of the scratch database to create"
        )
        parser.add_argument(
            "--conn-max-age", type=int, default=60,
            help="seconds the server keeps a database connection (VAXREG_DB_CONN_MAX_AGE; default 60, 0: one per request)",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--phase", choices=["setup"], default="", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["phase"] == "setup":
            self.stdout.write(json.dumps(_setup()))
            return
        if options["submissions"] < 2 or options["concurrency"] < 1:
            raise CommandError("--submissions must be at least 2 and --concurrency at least 1")
        try:
            with _stop_on_signals():
                result = complaints_bench(options)
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted: the server is stopped and the scratch database dropped", returncode=130
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        met = {True: both_languages(gettext_noop("met")), False: both_languages(gettext_noop("NOT met"))}
        self.stdout.write(
            f"bench complaints ({result['db']}, gunicorn {result['workers']}×{result['threads']} gthread, "
            f"{result['concurrency']} client threads, all from one address: the server's quotas are raised "
            f"with VAXREG_COMPLAINT_LIMITS={BENCH_LIMITS}):\n"
            f"  {result['completed']:,} of {result['submissions']:,} submissions in {result['seconds']:.1f} s: "
            f"{result['rps']:.1f} submissions/s, POST p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms "
            f"(ticket p50 {result['ticket_p50_ms']:.1f} ms); {result['stored']:,} complaints stored "
            f"({result['warmup_submissions']} of them sent first to warm the workers up, not measured)\n"
            f"  baseline GET {BASELINE_PATH}: {result['baseline_rps']:.1f} requests/s; ratio {result['ratio']:.3f}\n"
            f"  target ≥ {TARGET_RPS}/s: {met[result['rps_target_met']]}; "
            f"target p99 ≤ {TARGET_P99_MS} ms: {met[result['p99_target_met']]}"
            + (f"\n  refused or failed: {result['errors']}" if result["errors"] else "")
        )


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C, through the clean-up; SIGINT is set too, because a
    process started in the background by a script inherits it ignored."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {
        signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _setup() -> dict[str, Any]:
    """In the scratch database: the schema, reference data and Huế's facilities."""
    from vaxreg.places.services import facilities_generate, reference_load
    from vaxreg.vaccinations.services import catalogue_load

    call_command("migrate", verbosity=0)
    reference_load(verbosity=0)
    catalogue_load()
    return {"facilities": [f.code for f in facilities_generate(province_code=PROVINCE)]}


def _bodies(count: int, facilities: list[str]) -> list[bytes]:
    """Each submission's JSON body without its ticket: distinct persons, so none joins another."""
    bodies = []
    for i in range(count):
        gender = "F" if i % 2 else "M"
        year = 1940 + i % 70
        century_gender = (0 if year < 2000 else 2) + (1 if gender == "F" else 0)
        body = {
            "category": 3,
            "full_name": f"{_FAMILY[i % len(_FAMILY)]} {_GIVEN[gender][i // 2 % len(_GIVEN[gender])]}",
            "birth_date": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{year}",
            "gender": gender,
            "id_number": f"0{PROVINCE}{century_gender}{year % 100:02d}{i:06d}",
            "phone": f"09{_MOBILE_PREFIXES[i % 7]}{i // 7:07d}",
            "province_code": PROVINCE,
            "facility_code": facilities[i % len(facilities)],
            "claimed_doses": [
                {
                    "date": f"{1 + i % 28:02d}/09/2021",
                    "vaccine": "AstraZeneca",
                    "dose_number": 2,
                    "lot": "NJ0342",
                }
            ],
            "description": "Tôi đã tiêm mũi 2 nhưng trên ứng dụng chưa có mũi này.",
        }
        bodies.append(json.dumps(body, ensure_ascii=False).encode()[1:])  # the ticket goes in front
    return bodies


@dataclass
class Load:
    seconds: float = 0.0
    completed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ticket_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


class _Client:
    """One keep-alive connection; reconnects once when the server has closed an idle one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def _run_threads(concurrency: int, work: Any) -> float:
    stop = threading.Event()
    threads = [threading.Thread(target=work, args=(stop,), daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        stop.set()
    return time.perf_counter() - started


def _drive_submissions(*, port: int, bodies: list[bytes], concurrency: int) -> Load:
    load = Load()
    turns = itertools.count()  # next() on it is atomic: each body is sent once

    def work(stop: threading.Event) -> None:
        client = _Client(port)
        latencies, tickets, errors, completed = [], [], Counter[str](), 0
        try:
            ticket = ""
            while not stop.is_set() and (i := next(turns)) < len(bodies):
                started = time.perf_counter()
                if not ticket:  # the first submission of a client, or after a refusal
                    status, data = client.send("GET", TICKET_PATH)
                    if status != 200:
                        errors[f"ticket {status}"] += 1
                        continue
                    tickets.append((time.perf_counter() - started) * 1000)
                    ticket = json.loads(data)["ticket"]
                posted = time.perf_counter()
                body = b'{"ticket":' + json.dumps(ticket).encode() + b"," + bodies[i]
                status, data = client.send("POST", SUBMIT_PATH, body)
                latencies.append((time.perf_counter() - posted) * 1000)
                ticket = ""
                if status == 201:
                    completed += 1
                    ticket = json.loads(data)["next_ticket"]  # a citizen's app chains them the same way
                else:
                    errors[f"POST {status} {json.loads(data or b'{}').get('code', '')}".strip()] += 1
        except (OSError, http.client.HTTPException) as exc:
            errors[type(exc).__name__] += 1
        finally:
            client.close()
            with lock:
                load.latencies_ms.extend(latencies)
                load.ticket_ms.extend(tickets)
                load.errors.update(errors)
                load.completed += completed

    lock = threading.Lock()
    load.seconds = _run_threads(concurrency, work)
    return load


def _drive_baseline(*, port: int, requests: int, concurrency: int) -> tuple[int, float]:
    turns = itertools.count()
    done = Counter[str]()
    lock = threading.Lock()

    def work(stop: threading.Event) -> None:
        client = _Client(port)
        ok = 0
        try:
            while not stop.is_set() and next(turns) < requests:
                status, _ = client.send("GET", BASELINE_PATH)
                ok += status == 200
        finally:
            client.close()
            with lock:
                done["ok"] += ok

    seconds = _run_threads(concurrency, work)
    return done["ok"], seconds


def _count_stored(url: str) -> int:
    sql = "SELECT COUNT(*) FROM complaints_complaint"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return int(db.execute(sql).fetchone()[0])
    import psycopg

    with psycopg.connect(url) as db:
        row = db.execute(sql).fetchone()
        return int(row[0]) if row else 0


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def complaints_bench(options: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vaxreg-bench-complaints-") as folder:
        url = scratch_database(
            db=options["db"], folder=folder, database_url=options["database_url"], default_pg_url=DEFAULT_URL
        )
        env = server_environment(
            url=url, folder=folder, VAXREG_LOG_LEVEL="ERROR", VAXREG_COMPLAINT_LIMITS=BENCH_LIMITS,
            VAXREG_DB_CONN_MAX_AGE=str(options["conn_max_age"]),
        )  # fmt: skip
        server = None
        try:
            facilities = run_phase(["bench", "complaints", "--phase", "setup"], env=env)["facilities"]
            concurrency = options["concurrency"]
            warmup = min(concurrency * 4, options["submissions"] // 10)
            bodies = _bodies(warmup + options["submissions"], facilities)
            Path(folder, "static").mkdir()  # WhiteNoise's folder: collectstatic is not needed for an API
            port = free_port()
            server = server_start(env=env, port=port, workers=options["workers"], threads=options["threads"])
            # Each worker loads the URLs and the API's modules on its first requests: not measured.
            _drive_baseline(port=port, requests=concurrency * 25, concurrency=concurrency)
            _drive_submissions(port=port, bodies=bodies[:warmup], concurrency=concurrency)
            baseline_ok, baseline_seconds = _drive_baseline(
                port=port, requests=options["submissions"], concurrency=concurrency
            )
            load = _drive_submissions(port=port, bodies=bodies[warmup:], concurrency=concurrency)
            server_stop(server)
            stored = _count_stored(url)
        finally:
            if server is not None:
                server_stop(server)
            if options["db"] == "postgres":
                drop_pg_database(url)
    if not load.latencies_ms:
        raise CommandError(f"no submission was answered: {dict(load.errors)}")
    rps = load.completed / load.seconds
    baseline_rps = baseline_ok / baseline_seconds
    p99 = _percentile(load.latencies_ms, 99)
    return {
        "db": options["db"],
        "rps": round(rps, 1),
        "p50_ms": round(_percentile(load.latencies_ms, 50), 2),
        "p99_ms": round(p99, 2),
        "baseline_rps": round(baseline_rps, 1),
        "ratio": round(rps / baseline_rps, 4),
        "submissions": options["submissions"],
        "completed": load.completed,
        "stored": stored,
        "warmup_submissions": warmup,
        "seconds": round(load.seconds, 2),
        "ticket_p50_ms": round(_percentile(load.ticket_ms, 50), 2) if load.ticket_ms else 0.0,
        "errors": dict(load.errors),
        "concurrency": concurrency,
        "workers": options["workers"],
        "threads": options["threads"],
        "conn_max_age": options["conn_max_age"],
        "one_client_address": True,
        "rps_target_met": rps >= TARGET_RPS,
        "p99_target_met": p99 <= TARGET_P99_MS,
    }
