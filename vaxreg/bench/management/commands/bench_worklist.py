import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from vaxreg.bench.scratch import (
    DEFAULT_PG_URL,
    beside_single_server,
    busiest_commune,
    page_timed,
    run_phase,
    scratch_launch,
    scratch_world,
)

REQUESTS = 200
WARM_UP = 10
# What a health worker does with the list: the first page, later pages, a rule filter, a name search.
_QUERIES = (
    "",
    "?page=2",
    "?page=40",
    "?code=ID_GENDER_MISMATCH",
    "?q=nguyen+thi",
    "?state=open&age_group=60%2B",
)


class Command(BaseCommand):
    help = (
        "Measure the commune health station's worklist through the real view (URL routing, middleware, "
        "session, selectors, template): generate N synthetic persons (Huế) and import them, open --cases "
        "verification cases in the commune with the most residents, then request the worklist as that "
        "commune's health worker 200 times (first page, later pages, a rule filter, a name search, an age "
        "filter, in turn) and print p50/p95 in ms and the number of queries per page. The baseline, measured "
        "in the same run with the same client, is the home page; ratio = baseline p95 ÷ worklist p95. The "
        "database is a scratch one: a temporary SQLite file, or the PostgreSQL database of "
        f"VAXREG_BENCH_DATABASE_URL (default {DEFAULT_PG_URL}), dropped and created anew. --provinces spreads "
        "the persons over that many provinces (Huế and the next ones by code). With --db citus the whole "
        "measure runs twice in one run, on the single PostgreSQL server and on the local Citus cluster's "
        "coordinator (`vaxreg citus up`; persons and doses distributed by home), and the ratio is the "
        "PostgreSQL worklist's p95 ÷ the cluster's."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--persons", type=int, default=100_000, help="persons to generate (default 100,000)"
        )
        parser.add_argument(
            "--cases", type=int, default=5_000, help="open cases in the commune (default 5,000)"
        )
        parser.add_argument("--db", choices=["sqlite", "postgres", "citus"], default="sqlite")
        parser.add_argument("--provinces", type=int, default=1, help="spread over N provinces (default 1)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--phase", choices=["run", "import", "measure"], default="", help=argparse.SUPPRESS
        )
        parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["phase"] == "import":
            from vaxreg.imports.services import import_batch_create, import_batch_run

            batch = import_batch_create(file_name=options["file"].name, path=options["file"])
            import_batch_run(batch_id=batch.pk)
            self.stdout.write(json.dumps({"persons_created": batch.persons_created}))
        elif options["phase"] == "measure":
            self.stdout.write(json.dumps(_measure(cases=options["cases"])))
        elif options["phase"] == "run":
            self._run(options)
        else:
            self._launch(options)

    def _launch(self, options: dict[str, Any]) -> None:
        keys = ("persons", "cases", "provinces")
        if options["db"] != "citus":
            self.stdout.write(scratch_launch(verb="worklist", options=options, keys=keys))
            return
        result = beside_single_server(
            verb="worklist", options=options, keys=keys, count="persons", figure="p95_ms", higher_is_better=False,
            baseline="the same worklist on the single PostgreSQL server in the same run",
        )  # fmt: skip
        citus, single = result["citus"], result["postgres"]
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"bench worklist (citus, {options['provinces']} provinces): {citus['persons']:,} persons, "
            f"{citus['cases']:,} open cases in commune {citus['commune']}: p50 {citus['p50_ms']:.1f} ms, "
            f"p95 {citus['p95_ms']:.1f} ms, {citus['queries_max']} queries per page at most\n"
            f"  baseline, the same on one PostgreSQL: p50 {single['p50_ms']:.1f} ms, p95 {single['p95_ms']:.1f} ms; "
            f"ratio (PostgreSQL p95 ÷ Citus p95) {result['ratio']:.3f}"
        )

    def _run(self, options: dict[str, Any]) -> None:
        path = scratch_world(persons=options["persons"], seed=options["seed"], provinces=options["provinces"])
        run_phase(["bench", "worklist", "--phase", "import", "--file", str(path)])
        path.unlink()
        result = {
            "db": options["db"],
            **run_phase(["bench", "worklist", "--phase", "measure", "--cases", str(options["cases"])]),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"bench worklist ({result['db']}): {result['persons']:,} persons, {result['cases']:,} open cases in "
            f"commune {result['commune']}: p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
            f"{result['queries_max']} queries per page at most\n"
            f"  baseline (home page, same client): p50 {result['baseline_p50_ms']:.1f} ms, "
            f"p95 {result['baseline_p95_ms']:.1f} ms; ratio {result['ratio']:.3f}"
        )


def _open_cases(*, commune_code: str, count: int) -> int:
    """``count`` open cases for residents of the commune (persons elsewhere fill up when it has too few),
    and as many again spread over the other communes, so the table is not the commune's alone."""
    from vaxreg.core import clock
    from vaxreg.people.models import Person
    from vaxreg.places.models import Commune
    from vaxreg.verification.models import VerificationCase

    now = clock.now()
    # A small import opens its real cases itself; the benchmark adds cases for persons without one.
    existing = VerificationCase.objects.filter(commune_id=commune_code).count()
    count = max(0, count - existing)
    free = Person.objects.filter(verification_cases__isnull=True)
    province = Commune.objects.values_list("province_id", flat=True).get(pk=commune_code)
    here = list(free.filter(commune_id=commune_code).order_by("pk").values_list("pk", flat=True)[:count])
    if len(here) < count:
        here += list(
            free.exclude(commune_id=commune_code)
            .order_by("-pk")
            .values_list("pk", flat=True)[: count - len(here)]
        )
    taken = set(here)
    others = [
        (pk, commune)
        for pk, commune in free.exclude(commune_id=None)
        .exclude(commune_id=commune_code)
        .order_by("pk")
        .values_list("pk", "commune_id")[: count * 2]
        if pk not in taken
    ][:count]
    codes = ["ID_GENDER_MISMATCH"], ["DOB_MISSING", "ID_MISSING"], ["NAME_SUSPECT"]
    cases = [
        VerificationCase(
            person_id=pk,
            commune_id=commune_code,
            province_id=province,
            codes=codes[i % 3],
            opened_at=now,
            updated_at=now,
        )
        for i, pk in enumerate(here)
    ]
    cases += [
        VerificationCase(
            person_id=pk,
            commune_id=commune,
            province_id=province,
            codes=codes[0],
            opened_at=now,
            updated_at=now,
        )
        for pk, commune in others
    ]
    VerificationCase.objects.bulk_create(cases, batch_size=2000)
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have them in service
        cursor.execute("ANALYZE")
    return existing + len(here)


def _measure(*, cases: int) -> dict[str, Any]:
    from django.test import Client

    from vaxreg.accounts.models import Role
    from vaxreg.accounts.services import user_create
    from vaxreg.people.models import Person

    commune = busiest_commune()
    opened = _open_cases(commune_code=commune, count=cases)
    user = user_create(
        username="bench-tram-y-te", password="bench-password-123456", role=Role.COMMUNE, commune_code=commune
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    worklist = "/verification/"
    for i in range(WARM_UP):
        page_timed(client, worklist + _QUERIES[i % len(_QUERIES)])
        page_timed(client, "/")
    times, baseline, query_counts = [], [], []
    for i in range(REQUESTS):
        elapsed, queries = page_timed(client, worklist + _QUERIES[i % len(_QUERIES)])
        times.append(elapsed)
        query_counts.append(queries)
        baseline.append(page_timed(client, "/")[0])

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    return {
        "persons": Person.objects.count(),
        "cases": opened,
        "commune": commune,
        "requests": REQUESTS,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(p95(times), 2),
        "queries_max": max(query_counts),
        "baseline_p50_ms": round(statistics.median(baseline), 2),
        "baseline_p95_ms": round(p95(baseline), 2),
        "ratio": round(p95(baseline) / p95(times), 4),
    }
