import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from vaxreg.scale.cluster import (
    DEFAULT_FOLDER,
    DEFAULT_PORT,
    DEFAULT_WORKERS,
    Cluster,
    ClusterError,
    cluster_down,
    cluster_status,
    cluster_up,
)


class Command(BaseCommand):
    help = (
        "A local Citus cluster for development, CI and the benches: a coordinator and WORKERS workers on "
        "127.0.0.1, ports PORT, PORT+1, ... (9700-9702 by default), each with its own data directory under "
        "DIR. `up` creates what is missing, starts every node, creates the database `vaxreg` with the citus "
        "extension on each and adds the workers to the coordinator (safe to run again), then prints the "
        "VAXREG_DATABASE_URL that runs the product on it. `down` stops every node (`--remove` deletes the "
        "data). `status` shows each node. `distribute` distributes the per-person tables of the database "
        "VAXREG_DATABASE_URL points at by their home province (what `migrate` does with "
        "VAXREG_CITUS_DISTRIBUTE=1; safe to run again). Needs Citus in the local PostgreSQL 15 "
        "(../shared/vendor/citus/build.sh; production installs the Citus packages)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["up", "down", "status", "distribute"])
        parser.add_argument("--dir", type=Path, default=DEFAULT_FOLDER, help=f"default {DEFAULT_FOLDER}")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the coordinator's port (9700)")
        parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="workers (2)")
        parser.add_argument("--remove", action="store_true", help="with down: delete the data directories")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] < 1:
            raise CommandError("--workers: at least 1")
        cluster = Cluster(folder=options["dir"], port=options["port"], workers=options["workers"])
        result: dict[str, Any]
        try:
            if options["action"] == "distribute":
                result = {"steps": _distribute()}
            elif options["action"] == "up":
                result = {"steps": cluster_up(cluster), "url": cluster.url()}
            elif options["action"] == "down":
                result = {"steps": cluster_down(cluster, remove=options["remove"])}
            else:
                result = {"nodes": cluster_status(cluster), "url": cluster.url()}
        except ClusterError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for step in result.get("steps", []):
            self.stdout.write(step)
        for node in result.get("nodes", []):
            state = "running" if node["running"] else "stopped"
            member = ", in the cluster" if node["in_cluster"] else ""
            self.stdout.write(f"{node['node']:<12} 127.0.0.1:{node['port']}  {state}{member}  {node['data']}")
        if "url" in result and options["action"] in ("up", "status"):
            self.stdout.write(f"VAXREG_DATABASE_URL={result['url']}")


def _distribute() -> list[str]:
    from django.db import connection

    from vaxreg.scale.citus import citus_distribute, is_citus

    if not is_citus(connection):
        raise ClusterError("distribute: the database is not a Citus coordinator (VAXREG_DATABASE_URL)")
    with transaction.atomic():
        return citus_distribute(connection) or ["nothing to do: the tables are distributed"]
