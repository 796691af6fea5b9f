import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.env import child_environment
from vaxreg.bench.scratch import recreate_pg_database, run_phase, scratch_world
from vaxreg.scale.cluster import (
    DEFAULT_FOLDER,
    DEFAULT_PORT,
    Cluster,
    ClusterError,
    citus_installed,
    cluster_up,
    node_start,
    node_stop,
)

DATABASE = "vaxreg_drill"
WAIT_SECONDS = 600


class Command(BaseCommand):
    help = (
        "The failure drill on the local Citus cluster (issue: a worker lost during an import). Starts the "
        "cluster when it is down (`vaxreg citus up`), makes a scratch database vaxreg_drill there with the "
        "per-person tables distributed, writes a synthetic file of PERSONS persons (about 2.6 dose rows each) over PROVINCES provinces, "
        "starts its import, stops the first worker at once (pg_ctl -m immediate) while the import is "
        "writing, and reports: whether the import failed whole (the batch marked failed, not one person or "
        "dose stored, no prepared transaction left on a worker once it is back), then, with the worker "
        "started again, whether running the same batch again stores every record of the file, once. "
        "Prints the steps and a JSON line with --json; exits 1 when a check fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--persons", type=int, default=40_000, help="persons in the file (40,000: ~100,000 rows)"
        )
        parser.add_argument("--provinces", type=int, default=4, help="provinces the persons live in (4)")
        parser.add_argument(
            "--dir", type=Path, default=DEFAULT_FOLDER, help=f"the cluster ({DEFAULT_FOLDER})"
        )
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="its coordinator's port (9700)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
        # Internal: the scratch world is made by a child process pointed at the drill's database.
        parser.add_argument("--phase", choices=["world", "rerun"], default="", help=argparse.SUPPRESS)
        parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["phase"] == "world":
            path = scratch_world(
                persons=options["persons"], seed=options["seed"], provinces=options["provinces"]
            )
            self.stdout.write(json.dumps({"path": str(path)}))
            return
        if options["phase"] == "rerun":
            from vaxreg.imports.services import import_batch_run

            batch = import_batch_run(batch_id=options["batch"])
            self.stdout.write(json.dumps({"status": batch.status}))
            return
        if not citus_installed():
            raise CommandError("Citus is not installed in this PostgreSQL (../shared/vendor/citus/build.sh)")
        cluster = Cluster(folder=options["dir"], port=options["port"])
        try:
            cluster_up(cluster)
            result = _drill(cluster, options)
        except ClusterError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            for step in result["steps"]:
                self.stdout.write(step)
            for check, passed in result["checks"].items():
                self.stdout.write(f"{'PASS' if passed else 'FAIL'}  {check}")
        if not all(result["checks"].values()):
            sys.exit(1)


def _drill(cluster: Cluster, options: dict[str, Any]) -> dict[str, Any]:
    url = cluster.url(DATABASE)
    worker = cluster.nodes[1]
    steps: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vaxreg-drill-") as folder:
        recreate_pg_database(url)
        env = child_environment(
            VAXREG_DATABASE_URL=url,
            VAXREG_CITUS_DISTRIBUTE="1",
            VAXREG_VAR_DIR=folder,
            VAXREG_LOG_LEVEL="ERROR",
        )
        world = ["bench", "drill", "--phase", "world", "--persons", str(options["persons"])]
        world += ["--provinces", str(options["provinces"]), "--seed", str(options["seed"])]
        path = Path(run_phase(world, env=env)["path"])
        rows = _file_rows(path)
        steps.append(f"file: {rows:,} dose rows over {options['provinces']} provinces; database {url}")

        importing = subprocess.Popen(
            [sys.executable, "-m", "vaxreg.cli", "bench", "import", "--phase", "import", "--file", str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with psycopg.connect(url, autocommit=True) as watch:
            written = _wait_for_progress(watch, importing)
            node_stop(worker)
            steps.append(f"{worker.name} stopped while the import had handled {written:,} rows")
        _, errors = importing.communicate(timeout=WAIT_SECONDS)
        last_error = next((line for line in reversed(errors.splitlines()) if line.strip()), "")
        steps.append(f"import ended with exit {importing.returncode}: {last_error[:200]}")
        node_start(worker)
        steps.append(f"{worker.name} started again")

        with psycopg.connect(url, autocommit=True) as db:
            db.execute("SELECT recover_prepared_transactions()")
            batch_id, status = _one(db, "SELECT id, status FROM imports_importbatch ORDER BY id")
            stored = _stored(db)
            prepared = _prepared_on_workers(cluster)
        steps.append(
            f"after the failure: batch {status}, {stored[0]:,} persons and {stored[1]:,} doses stored"
        )

        started = time.perf_counter()
        rerun = run_phase(["bench", "drill", "--phase", "rerun", "--batch", str(batch_id)], env=env)
        seconds = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as db:
            again_status, rows_stored, rows_rejected = _one(
                db,
                "SELECT status, rows_stored, rows_rejected FROM imports_importbatch WHERE id = %s",
                [batch_id],
            )
            again = _stored(db)
            (distinct_keys,) = _one(
                db,
                "SELECT count(*) FROM (SELECT DISTINCT facility_id, source_record_id FROM vaccinations_dose) k",
            )
        steps.append(
            f"the same batch run again ({rerun['status']}, {seconds:.1f} s): {again_status}, "
            f"{rows_stored:,} rows stored, {rows_rejected:,} rejected; {again[0]:,} persons, {again[1]:,} doses"
        )
    checks = {
        "the import failed whole (the batch is marked failed)": status == "failed"
        and importing.returncode != 0,
        "nothing of it is stored (no person, no dose)": stored == (0, 0),
        "no prepared transaction is left on a worker": prepared == 0,
        "run again, the batch is done": again_status == "done",
        "every row of the file is stored or rejected": rows_stored + rows_rejected == rows,
        "each stored record once (one dose per facility and source record)": again[1]
        == distinct_keys
        == rows_stored,
    }
    return {"rows": rows, "provinces": options["provinces"], "steps": steps, "checks": checks}


def _file_rows(path: Path) -> int:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def _wait_for_progress(db: psycopg.Connection[Any], importing: subprocess.Popen[str]) -> int:
    """The rows the import has handled, once it has handled some (it writes them as it goes)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if importing.poll() is not None:
            raise CommandError("the import ended before the worker could be stopped: give it more --persons")
        found = db.execute("SELECT max(rows) FROM imports_importprogress").fetchone()
        if found and found[0]:
            return int(found[0])
        time.sleep(0.05)
    raise CommandError("the import wrote nothing in time")


def _stored(db: psycopg.Connection[Any]) -> tuple[int, int]:
    (persons,) = _one(db, "SELECT count(*) FROM people_person")
    (doses,) = _one(db, "SELECT count(*) FROM vaccinations_dose")
    return int(persons), int(doses)


def _prepared_on_workers(cluster: Cluster) -> int:
    left = 0
    for node in cluster.nodes[1:]:
        with psycopg.connect(cluster.url(DATABASE).replace(f":{cluster.port}/", f":{node.port}/")) as db:
            left += int(_one(db, "SELECT count(*) FROM pg_prepared_xacts")[0])
    return left


def _one(db: psycopg.Connection[Any], sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    row = db.execute(sql, params).fetchone()  # type: ignore[arg-type]  # the statements are written above
    if row is None:
        raise CommandError(f"no row: {sql}")
    return tuple(row)
