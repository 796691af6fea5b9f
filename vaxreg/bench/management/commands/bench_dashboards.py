import argparse
import datetime as dt
import json
import logging
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from vaxreg.bench.scratch import (
    busiest_commune,
    page_timed,
    rows_hold_back,
    run_phase,
    scratch_launch,
    scratch_world,
)

REQUESTS = 100
WARM_UP = 5
# The nation: about 80 million persons in 34 provinces. A world of N persons is spread over as many provinces
# as hold N there, so that its communes are as large as the nation's (about 24,000 persons): a recount's cost
# is the size of the communes a file touches, and ten million persons in Huế's 40 communes alone would make
# every commune ten times the nation's.
PERSONS_PER_PROVINCE = 80_000_000 // 34


class Command(BaseCommand):
    help = (
        "Measure the progress dashboards (SPEC §9) through the real views (URL routing, middleware, session, "
        "selectors, template): generate N synthetic persons (Huế, and past 2.35 million the next provinces by code, "
        "one per 2.35 million as in the nation, or --provinces) and import them but --import-rows dose rows "
        "held back (one facility's, or with --late-file random drawn from every facility), count every unit's figures from the records (the full rebuild, timed), start a campaign "
        "for the province, then request the national, province and commune dashboards and the campaign page "
        "100 times each as the ministry, the province and the commune's station, and print p50/p95 in ms and "
        "the queries per page beside the home page (baseline, same client; ratio = baseline p95 ÷ page p95). "
        "Then the held-back rows arrive as one more file: its import, and the time the recount of the units "
        "it marked takes once it has committed (what the worker does within its next poll). The database is "
        "a scratch one (SQLite file, or VAXREG_BENCH_DATABASE_URL), dropped and created anew."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, default=100_000, help="persons to generate (100,000)")
        parser.add_argument(
            "--import-rows", type=int, default=10_000, help="dose rows held back and imported last (10,000)"
        )
        parser.add_argument(
            "--late-file",
            choices=["one-facility", "random"],
            default="one-facility",
            help="the held-back rows: one facility's (as facilities send files; default) or drawn from all",
        )
        parser.add_argument(
            "--provinces",
            type=int,
            default=0,
            help="spread the persons over N provinces (default: one per 2.35 million persons, as in the nation)",
        )
        parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--phase", choices=["run", "import", "measure", "late"], default="", help=argparse.SUPPRESS
        )
        parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        phase = options["phase"]
        if phase == "import":
            self.stdout.write(json.dumps(_import(options["file"])))
        elif phase == "measure":
            self.stdout.write(json.dumps(_measure()))
        elif phase == "late":
            self.stdout.write(json.dumps(_late(options["file"])))
        elif phase == "run":
            self._run(options)
        else:
            provinces = options["provinces"] or -(-options["persons"] // PERSONS_PER_PROVINCE)
            self.stdout.write(
                scratch_launch(
                    verb="dashboards",
                    options={**options, "provinces": provinces},
                    keys=("persons", "provinces", "import_rows", "late_file"),
                )
            )

    def _run(self, options: dict[str, Any]) -> None:
        path = scratch_world(persons=options["persons"], seed=options["seed"], provinces=options["provinces"])
        later = path.with_name("later.csv")
        held = rows_hold_back(
            path,
            later,
            rows=options["import_rows"],
            seed=options["seed"],
            one_facility=options["late_file"] == "one-facility",
        )
        imported = run_phase(["bench", "dashboards", "--phase", "import", "--file", str(path)])
        path.unlink()
        result = {"db": options["db"], **imported, **run_phase(["bench", "dashboards", "--phase", "measure"])}
        if held:
            result["late"] = run_phase(["bench", "dashboards", "--phase", "late", "--file", str(later)])
            later.unlink()
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        lines = [
            f"bench dashboards ({result['db']}): {result['persons']:,} persons in {result['provinces']} "
            f"provinces and {result['communes']:,} communes, {result['doses']:,} doses, "
            f"{result['findings']:,} open findings, {result['cases']:,} cases, {result['figure_rows']:,} kept "
            f"figures; full rebuild {result['rebuild_s']:.2f} s",
        ]
        for name, page in result["pages"].items():
            lines.append(
                f"  {name:<10} p50 {page['p50_ms']:7.1f} ms  p95 {page['p95_ms']:7.1f} ms  "
                f"{page['queries_max']} queries  ratio {page['ratio']:.3f}"
            )
        lines.append(
            f"  baseline (home page, same clients): p50 {result['baseline_p50_ms']:.1f} ms, "
            f"p95 {result['baseline_p95_ms']:.1f} ms"
        )
        if "late" in result:
            late = result["late"]
            lines.append(
                f"  a {late['rows_read']:,}-row import: {late['import_s']:.2f} s; the rollups current "
                f"{late['refresh_s']:.2f} s after it committed ({late['marks']:,} marks: {late['communes']} "
                f"communes, {late['facilities']} facilities recounted; {late['in_part']} units from the "
                f"kinds of rows named only); after its rows were stored: "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in late["after_import_s"].items())
            )
        self.stdout.write("\n".join(lines))


def _import(path: Path) -> dict[str, Any]:
    """The first file, then what the worker does after an import too large to re-check inline: the rules
    over its provinces and the verification cases that follow (so the figures count findings and cases)."""
    from vaxreg.imports.services import import_batch_create, import_batch_run
    from vaxreg.people.models import Person
    from vaxreg.quality.tasks import quality_scan_task

    batch = import_batch_create(file_name=path.name, path=path)
    batch = import_batch_run(batch_id=batch.pk)
    if batch.status != "done":
        raise CommandError(f"the import did not finish: {batch.message}")
    started = time.perf_counter()
    if batch.persons_created > settings.VAXREG_IMPORT_RECHECK_INLINE_MAX:
        provinces = Person.objects.order_by().values_list("province_id", flat=True).distinct()
        quality_scan_task.call(sorted(code for code in provinces if code))
    return {
        "persons_created": batch.persons_created,
        "rows_imported": batch.rows_stored,
        "scan_s": round(time.perf_counter() - started, 1),
    }


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _client_for(user: Any) -> Any:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def _measure() -> dict[str, Any]:
    from vaxreg.accounts.models import Role
    from vaxreg.accounts.services import user_create
    from vaxreg.core import clock
    from vaxreg.dashboards.campaigns import campaign_create
    from vaxreg.dashboards.models import Target, UnitFigure
    from vaxreg.dashboards.services import rollups_rebuild
    from vaxreg.people.models import Person
    from vaxreg.quality.models import Finding
    from vaxreg.vaccinations.models import Dose
    from vaxreg.verification.models import VerificationCase

    started = time.perf_counter()
    rollups_rebuild()
    rebuild_s = time.perf_counter() - started
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have them in service
        cursor.execute("ANALYZE")
    commune = busiest_commune()
    password = "bench-password-123456"
    users = {
        "national": user_create(username="bench-bo-y-te", password=password, role=Role.NATIONAL),
        "province": user_create(
            username="bench-so-y-te", password=password, role=Role.PROVINCE, province_code="46"
        ),
        "commune": user_create(
            username="bench-tram", password=password, role=Role.COMMUNE, commune_code=commune
        ),
    }
    campaign = campaign_create(
        actor=users["province"],
        name="Xác minh xong trước hạn",
        unit_key="46",
        target=Target.CASES_ACTIVE,
        goal=Decimal(0),
        start=clock.today() - dt.timedelta(days=30),
        deadline=clock.today() + dt.timedelta(days=30),
    )
    clients = {role: _client_for(user) for role, user in users.items()}
    pages = {
        "national": ("national", "/dashboards/VN/"),
        "province": ("province", "/dashboards/46/"),
        "commune": ("commune", f"/dashboards/{commune}/"),
        "campaign": ("province", f"/dashboards/campaigns/{campaign.pk}/"),
    }
    for role, url in pages.values():
        for _ in range(WARM_UP):
            page_timed(clients[role], url)
            page_timed(clients[role], "/")
    measured: dict[str, Any] = {}
    baseline: list[float] = []
    for name, (role, url) in pages.items():
        times, counts = [], []
        for _ in range(REQUESTS):
            elapsed, queries = page_timed(clients[role], url)
            times.append(elapsed)
            counts.append(queries)
            baseline.append(page_timed(clients[role], "/")[0])
        measured[name] = {
            "url": url,
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(_p95(times), 2),
            "queries_max": max(counts),
        }
    for page in measured.values():
        page["ratio"] = round(_p95(baseline) / page["p95_ms"], 4)
    return {
        "persons": Person.objects.count(),
        "provinces": Person.objects.order_by().values("province_id").distinct().count(),
        "communes": Person.objects.order_by().values("commune_id").distinct().count(),
        "doses": Dose.objects.count(),
        "findings": Finding.objects.filter(is_open=True).count(),
        "cases": VerificationCase.objects.count(),
        "figure_rows": UnitFigure.objects.count(),
        "rebuild_s": round(rebuild_s, 3),
        "commune": commune,
        "requests": REQUESTS,
        "pages": measured,
        "baseline_p50_ms": round(statistics.median(baseline), 2),
        "baseline_p95_ms": round(_p95(baseline), 2),
    }


def _late(path: Path) -> dict[str, Any]:
    """The held-back file: imported (its commit queues a recount), then the recount the worker would run,
    timed (the worker takes a queued task within a second, its poll interval)."""
    from vaxreg.dashboards import services
    from vaxreg.dashboards.models import StaleUnit
    from vaxreg.imports.services import import_batch_create, import_batch_run

    after = _AfterImportSeconds()
    logging.getLogger("vaxreg.imports.hooks").addHandler(after)
    logging.getLogger("vaxreg.imports.hooks").setLevel(logging.INFO)
    started = time.perf_counter()
    batch = import_batch_run(batch_id=import_batch_create(file_name=path.name, path=path).pk)
    import_s = time.perf_counter() - started
    marks = StaleUnit.objects.count()
    started = time.perf_counter()
    result = services.rollups_refresh()
    refresh_s = time.perf_counter() - started
    if result is None or StaleUnit.objects.exists():
        raise CommandError("the recount after the import did not finish")
    return {
        "rows_read": batch.rows_read,
        "import_s": round(import_s, 3),
        # Of the import, what ran after its rows were stored, in its transaction (re-check, cases, linkage).
        "after_import_s": {name: round(seconds, 3) for name, seconds in after.seconds.items()},
        "marks": marks,
        "refresh_s": round(refresh_s, 3),
        "communes": result.communes,
        "facilities": result.facilities,
        "in_part": result.in_part,  # base units counted again from the kinds of rows their marks named only
    }


class _AfterImportSeconds(logging.Handler):
    """What ``imports.hooks`` logs of the handlers run after an import: their seconds."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.seconds.update(getattr(record, "after_import_seconds", {}))
