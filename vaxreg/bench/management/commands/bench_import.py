import argparse
import csv
import json
import math
import resource
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from vaxreg.bench.scratch import (
    DEFAULT_PG_URL,
    beside_single_server,
    run_phase,
    scratch_launch,
    scratch_world,
)

ROWS_PER_PERSON = 2.6  # a little under what `vaxreg synth` gives on average (2.65): the file is cut to N rows


class Command(BaseCommand):
    help = (
        "Measure the import: generate exactly N synthetic dose rows (Huế), import them into an empty database and "
        "print rows/s and peak memory, beside a baseline measured in the same run: the same file loaded "
        "raw into a bare table (PostgreSQL COPY; SQLite one executemany transaction). The ratio is "
        "import rows/s ÷ baseline rows/s. The database used is a scratch one: a temporary SQLite file, or "
        f"the PostgreSQL database of VAXREG_BENCH_DATABASE_URL (default {DEFAULT_PG_URL}), dropped and "
        "created anew. With --db citus the same file is imported twice in one run, on the local Citus "
        "cluster's coordinator (`vaxreg citus up`; a scratch database vaxreg_bench there, persons and doses "
        "distributed by home) and on the single PostgreSQL server, and the ratio is Citus rows/s ÷ "
        "PostgreSQL rows/s. --provinces spreads the persons over that many provinces (Huế and the next "
        "ones by code)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000, help="how many dose rows (default 100,000)")
        parser.add_argument("--db", choices=["sqlite", "postgres", "citus"], default="sqlite")
        parser.add_argument("--provinces", type=int, default=1, help="spread over N provinces (default 1)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--seed", type=int, default=1)
        # Internal: the benchmark runs its phases in child processes pointed at the scratch database.
        parser.add_argument("--phase", choices=["run", "import"], default="", help=argparse.SUPPRESS)
        parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["phase"] == "import":
            self._phase_import(options["file"])
            return
        if options["phase"] == "run":
            self._phase_run(options)
            return
        self._launch(options)

    # The benchmark runs in a child process whose settings point at the scratch database.
    def _launch(self, options: dict[str, Any]) -> None:
        keys = ("rows", "provinces")
        if options["db"] != "citus":
            self.stdout.write(scratch_launch(verb="import", options=options, keys=keys))
            return
        result = beside_single_server(
            verb="import", options=options, keys=keys, count="rows", figure="rows_per_s", higher_is_better=True,
            baseline="the same file imported on the single PostgreSQL server in the same run",
        )  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        citus, single = result["citus"], result["postgres"]
        self.stdout.write(
            f"bench import (citus, {options['provinces']} provinces): {citus['rows']:,} rows in "
            f"{citus['seconds']:.2f} s = {citus['rows_per_s']:,.0f} rows/s; peak memory {citus['peak_rss_mb']:.0f} MB\n"
            f"  baseline, the same file on one PostgreSQL: {single['rows_per_s']:,.0f} rows/s "
            f"({single['seconds']:.2f} s); ratio {result['ratio']:.3f}\n"
            f"  stored {citus['rows_stored']:,} (PostgreSQL {single['rows_stored']:,}), persons "
            f"{citus['persons_created']:,} (PostgreSQL {single['persons_created']:,})"
        )

    def _phase_run(self, options: dict[str, Any]) -> None:
        persons = math.ceil(options["rows"] / ROWS_PER_PERSON) + 10
        path = scratch_world(persons=persons, seed=options["seed"], provinces=options["provinces"])
        rows = _keep_first_rows(path, options["rows"])

        baseline_seconds = _raw_load(path)
        measured = run_phase(["bench", "import", "--phase", "import", "--file", str(path)])
        result = {
            "db": options["db"],
            "rows": rows,
            "seconds": round(measured["seconds"], 3),
            "rows_per_s": round(rows / measured["seconds"], 1),
            "baseline_rows_per_s": round(rows / baseline_seconds, 1),
            "ratio": round((rows / measured["seconds"]) / (rows / baseline_seconds), 4),
            # An upper bound: the reading process is forked, and the pages both still share are counted twice.
            "peak_rss_mb": round(measured["peak_rss_mb"] + measured["reader_peak_rss_mb"], 1),
            "peak_rss_mb_importer": round(measured["peak_rss_mb"], 1),
            "peak_rss_mb_reader": round(measured["reader_peak_rss_mb"], 1),
            "rows_stored": measured["rows_stored"],
            "rows_rejected": measured["rows_rejected"],
            "persons_created": measured["persons_created"],
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"bench import ({result['db']}): {rows:,} rows in {result['seconds']:.2f} s = {result['rows_per_s']:,.0f} rows/s; "
            f"peak memory {result['peak_rss_mb']:.0f} MB "
            f"(importer {result['peak_rss_mb_importer']:.0f} MB + reader {result['peak_rss_mb_reader']:.0f} MB)\n"
            f"  baseline raw load: {result['baseline_rows_per_s']:,.0f} rows/s; ratio {result['ratio']:.3f}\n"
            f"  stored {result['rows_stored']:,}, rejected {result['rows_rejected']:,}, persons {result['persons_created']:,}"
        )

    def _phase_import(self, path: Path) -> None:
        from vaxreg.imports.services import import_batch_create, import_batch_run

        started = time.perf_counter()
        batch = import_batch_create(file_name=path.name, path=path)
        batch = import_batch_run(batch_id=batch.pk)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # The file is read in a forked process (on SQLite too); its own peak counts as well.
        reader_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        self.stdout.write(
            json.dumps(
                {
                    "seconds": seconds,
                    "peak_rss_mb": peak,
                    "reader_peak_rss_mb": reader_peak,
                    "rows_stored": batch.rows_stored,
                    "rows_rejected": batch.rows_rejected,
                    "persons_created": batch.persons_created,
                }
            )
        )


BARE_COLUMNS = 13


def _keep_first_rows(path: Path, rows: int) -> int:
    """Cut the CSV file after its first ``rows`` records (a quoted cell may hold a line break); how many it
    holds now."""
    kept = path.with_suffix(".cut")
    consumed: list[str] = []

    def lines(handle: Iterable[str]) -> Iterator[str]:
        for line in handle:
            consumed.append(line)
            yield line

    count = 0
    with (
        path.open(encoding="utf-8-sig", newline="") as source,
        kept.open("w", encoding="utf-8-sig", newline="") as out,
    ):
        records = csv.reader(lines(source))
        for count, _ in enumerate(records):  # the header is record 0
            out.writelines(consumed)
            consumed.clear()
            if count == rows:
                break
    kept.replace(path)
    return count


def _raw_load(path: Path) -> float:
    """Seconds to load the file's rows, untouched, into a bare table of text columns."""
    columns = ", ".join(f"c{i} text" for i in range(BARE_COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw")
        cursor.execute(f"CREATE TABLE bench_raw ({columns})")
    started = time.perf_counter()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with (
                connection.connection.cursor() as cursor,
                cursor.copy(
                    "COPY bench_raw FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
                ) as copy,
                path.open("rb") as handle,
            ):
                handle.read(3)  # the UTF-8 byte order mark
                while block := handle.read(1 << 20):
                    copy.write(block)
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                next(reader)
                placeholders = ", ".join(["?"] * BARE_COLUMNS)
                connection.connection.executemany(f"INSERT INTO bench_raw VALUES ({placeholders})", reader)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_raw")
    return seconds
