import argparse
import json
import random
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import F

from vaxreg.bench.scratch import (
    DEFAULT_PG_URL,
    beside_single_server,
    run_phase,
    scratch_launch,
    scratch_world,
)

RECHECKS = 1_000
_FLIP = {"M": "F", "F": "M"}
# The columns the rules read (vaxreg.quality.services), so the baseline reads exactly what the scan reads.
_BASELINE_QUERIES = (
    "SELECT id, full_name, birth_year, birth_month, birth_day, birth_date_raw, gender, id_type, id_number, "
    "id_repaired, phone, name_key FROM people_person",
    "SELECT person_id, id, vaccine_id, vaccine_raw, vaccination_date, dose_number FROM vaccinations_dose "
    "WHERE status = 'valid'",
)


class Command(BaseCommand):
    help = (
        "Measure the data-quality scan: generate N synthetic persons (Huế, about 2.6 doses each), import "
        "them into an empty database, then time a full `quality scan` (seconds, persons/s, peak memory of "
        "the scanning process and of its largest worker) beside a baseline measured in the same run: one "
        "plain SELECT of the persons' and one of the valid doses' columns that the rules read, every row "
        "fetched. The ratio is baseline seconds ÷ scan seconds (= scan persons/s ÷ baseline persons/s). "
        "The scan runs as `quality scan` does: the rules on forked workers (one per core, at most two) from "
        "50,000 persons on. A second scan over the unchanged data is timed too. Then --rechecks (1,000) random persons "
        "are re-checked one at a time, each right after a real change (its gender flipped, its version "
        "bumped), and the median and 95th percentile of the re-check are printed in ms. The database used "
        "is a scratch one: a temporary SQLite file, or the PostgreSQL database of VAXREG_BENCH_DATABASE_URL "
        f"(default {DEFAULT_PG_URL}), dropped and created anew. --provinces spreads the persons over that many "
        "provinces (Huế and the next ones by code). With --db citus the whole measure runs twice in one run, on "
        "the single PostgreSQL server and on the local Citus cluster's coordinator (`vaxreg citus up`; a "
        "scratch database vaxreg_bench there, persons and doses distributed by home), and the ratio is the "
        "PostgreSQL scan's seconds ÷ the cluster's."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--persons", type=int, default=100_000, help="how many persons (default 100,000)")
        parser.add_argument("--db", choices=["sqlite", "postgres", "citus"], default="sqlite")
        parser.add_argument("--provinces", type=int, default=1, help="spread over N provinces (default 1)")
        parser.add_argument(
            "--rechecks",
            type=int,
            default=RECHECKS,
            help=f"persons re-checked one at a time (default {RECHECKS:,})",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--seed", type=int, default=1)
        # Internal: the benchmark runs its phases in child processes pointed at the scratch database.
        parser.add_argument(
            "--phase", choices=["run", "import", "baseline", "scan"], default="", help=argparse.SUPPRESS
        )
        parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        phase = options["phase"]
        if phase == "import":
            self._emit(_phase_import(options["file"]))
        elif phase == "baseline":
            self._emit(_phase_baseline())
        elif phase == "scan":
            self._emit(_phase_scan(seed=options["seed"], rechecks=options["rechecks"]))
        elif phase == "run":
            self._phase_run(options)
        else:
            self._launch(options)

    def _emit(self, values: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(values))

    # The benchmark runs in a child process whose settings point at the scratch database.
    def _launch(self, options: dict[str, Any]) -> None:
        keys = ("persons", "provinces", "rechecks")
        if options["db"] != "citus":
            self.stdout.write(scratch_launch(verb="quality", options=options, keys=keys))
            return
        result = beside_single_server(
            verb="quality", options=options, keys=keys, count="persons", figure="seconds", higher_is_better=False,
            baseline="the same scan on the single PostgreSQL server in the same run",
        )  # fmt: skip
        citus, single = result["citus"], result["postgres"]
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"bench quality (citus, {options['provinces']} provinces): {citus['persons']:,} persons scanned in "
            f"{citus['seconds']:.2f} s = {citus['persons_per_s']:,.0f} persons/s; "
            f"peak memory {citus['peak_rss_mb']:.0f} MB; {citus['findings_open']:,} findings open\n"
            f"  baseline, the same scan on one PostgreSQL: {single['seconds']:.2f} s "
            f"({single['findings_open']:,} findings open); ratio (PostgreSQL s ÷ Citus s) {result['ratio']:.3f}\n"
            f"  rescan with nothing changed: {citus['rescan_seconds']:.2f} s (PostgreSQL {single['rescan_seconds']:.2f} s)\n"
            f"  re-check of one changed person: median {citus['recheck_median_ms']:.2f} ms, p95 "
            f"{citus['recheck_p95_ms']:.2f} ms (PostgreSQL {single['recheck_median_ms']:.2f}, "
            f"{single['recheck_p95_ms']:.2f} ms)"
        )

    def _phase_run(self, options: dict[str, Any]) -> None:
        path = scratch_world(persons=options["persons"], seed=options["seed"], provinces=options["provinces"])

        run_phase(["bench", "quality", "--phase", "import", "--file", str(path)])
        path.unlink()
        baseline = run_phase(["bench", "quality", "--phase", "baseline"])
        measured = run_phase(
            [
                "bench",
                "quality",
                "--phase",
                "scan",
                "--seed",
                str(options["seed"]),
                "--rechecks",
                str(options["rechecks"]),
            ]
        )
        seconds = measured["seconds"]
        persons = measured["persons"]
        result = {
            "db": options["db"],
            "persons": persons,
            "doses": measured["doses"],
            "findings_open": measured["findings_open"],
            "seconds": round(seconds, 3),
            "persons_per_s": round(persons / seconds, 1),
            "baseline_seconds": round(baseline["seconds"], 3),
            "ratio": round(baseline["seconds"] / seconds, 4),
            "rescan_seconds": round(measured["rescan_seconds"], 3),
            "recheck_median_ms": round(measured["recheck_median_ms"], 3),
            "recheck_p95_ms": round(measured["recheck_p95_ms"], 3),
            "peak_rss_mb": round(measured["peak_rss_mb"], 1),
            "workers_peak_rss_mb": round(measured["workers_peak_rss_mb"], 1),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"bench quality ({result['db']}): {persons:,} persons, {result['doses']:,} doses scanned in "
            f"{result['seconds']:.2f} s = {result['persons_per_s']:,.0f} persons/s; "
            f"peak memory {result['peak_rss_mb']:.0f} MB (largest worker {result['workers_peak_rss_mb']:.0f} MB); "
            f"{result['findings_open']:,} findings open\n"
            f"  baseline plain SELECT of the same columns: {result['baseline_seconds']:.2f} s; "
            f"ratio (baseline s ÷ scan s) {result['ratio']:.3f}\n"
            f"  rescan with nothing changed: {result['rescan_seconds']:.2f} s\n"
            f"  re-check of one changed person ({options['rechecks']:,} times): median {result['recheck_median_ms']:.2f} ms, "
            f"p95 {result['recheck_p95_ms']:.2f} ms"
        )


def _phase_import(path: Path) -> dict[str, Any]:
    from vaxreg.imports.services import import_batch_create, import_batch_run

    batch = import_batch_create(file_name=path.name, path=path)
    batch = import_batch_run(batch_id=batch.pk)
    return {"rows_stored": batch.rows_stored, "persons_created": batch.persons_created}


def _phase_baseline() -> dict[str, Any]:
    """Seconds to read the rules' columns of every person and every valid dose with plain SELECTs."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for query in _BASELINE_QUERIES:
            cursor.execute(query)
            while cursor.fetchmany(10_000):
                pass
    return {"seconds": time.perf_counter() - started}


def _phase_scan(*, seed: int, rechecks: int) -> dict[str, Any]:
    from vaxreg.core import clock
    from vaxreg.people.models import Person
    from vaxreg.quality.models import Finding
    from vaxreg.quality.services import quality_check_persons, quality_scan
    from vaxreg.vaccinations.models import Dose, DoseStatus

    started = time.perf_counter()
    result = quality_scan()
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = quality_scan()
    rescan_seconds = time.perf_counter() - started
    if sum(again.opened.values()) or sum(again.closed.values()):
        raise CommandError("a second scan over unchanged data opened or closed findings")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers_peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest one
    findings_open = Finding.objects.filter(is_open=True).count()

    ids = list(Person.objects.values_list("id", flat=True))
    picked = random.Random(seed).sample(ids, min(rechecks, len(ids)))
    genders: dict[int, str] = {}
    for start in range(0, len(picked), 900):  # SQLite's limit of parameters
        genders.update(Person.objects.filter(id__in=picked[start : start + 900]).values_list("id", "gender"))
    timings = []
    for person_id in picked:
        Person.objects.filter(pk=person_id).update(
            gender=_FLIP.get(genders[person_id], "M"), version=F("version") + 1, updated_at=clock.now()
        )
        began = time.perf_counter()
        quality_check_persons(person_ids=[person_id])
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return {
        "persons": result.persons,
        "doses": Dose.objects.filter(status=DoseStatus.VALID).count(),
        "findings_open": findings_open,
        "seconds": seconds,
        "rescan_seconds": rescan_seconds,
        "recheck_median_ms": statistics.median(timings) if timings else 0.0,
        "recheck_p95_ms": timings[max(0, round(0.95 * len(timings)) - 1)] if timings else 0.0,
        "peak_rss_mb": peak_rss_mb,
        "workers_peak_rss_mb": workers_peak_rss_mb,
    }
