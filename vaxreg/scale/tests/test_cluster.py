"""`vaxreg citus up|status|down`: a coordinator and two workers on their own ports and folders, the database
on each with the extension, the workers added; safe to run again; stopped and removed on request."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command

from config.env import child_environment
from vaxreg.scale.cluster import Cluster, citus_installed, cluster_down, cluster_status, cluster_up

pytestmark = [
    pytest.mark.citus,
    pytest.mark.slow,
    pytest.mark.skipif(not citus_installed(), reason="Citus is not installed in this PostgreSQL"),
]
PORT = 9750  # beside the default cluster (9700), which a developer may be running


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Under /tmp, not pytest's folder: the servers run as the postgres account, which must reach it.
    folder = Path(f"/tmp/vaxreg-citus-test-{os.getpid()}")
    made = Cluster(folder=folder, port=PORT, workers=2)
    yield made
    cluster_down(made, remove=True)


def test_up_starts_a_coordinator_with_two_workers_and_is_safe_to_repeat(cluster: Cluster) -> None:
    steps = cluster_up(cluster)
    assert "worker2: added to the coordinator (vaxreg)" in steps
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        workers = connection.execute(
            "SELECT nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0 ORDER BY nodeport"
        ).fetchall()
        assert [port for (port,) in workers] == [PORT + 1, PORT + 2]
        connection.execute("CREATE TABLE probe (province text, n int)")
        connection.execute("SELECT create_distributed_table('probe', 'province')")
        connection.execute("INSERT INTO probe SELECT lpad(g::text, 2, '0'), g FROM generate_series(1, 34) g")
        placed = connection.execute(
            "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'probe'::regclass"
        ).fetchone()
        assert placed == (2,)  # the shards lie on both workers
        assert connection.execute("SELECT sum(n) FROM probe").fetchone() == (595,)
    assert cluster_up(cluster) == []  # nothing left to do


def test_a_new_database_is_made_with_the_extension_after_up_is_run_again(cluster: Cluster) -> None:
    """Citus starts a maintenance daemon, which stays connected, in every database with the extension that
    a session opens; had a repeated ``up`` opened ``template1``, every ``CREATE DATABASE`` (a test database)
    would fail with "source database "template1" is being accessed by other users", as it did in CI."""
    cluster_up(cluster)
    cluster_up(cluster)
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        for attempt in range(5):
            connection.execute(f"CREATE DATABASE probe_{attempt}")  # on the workers too
    for node in cluster.nodes:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{node.port}/probe_4", autocommit=True) as probe:
            assert probe.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone() == (1,)
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        for attempt in range(5):
            connection.execute(f"DROP DATABASE probe_{attempt} WITH (FORCE)")
    assert [(n["node"], n["running"], n["in_cluster"]) for n in cluster_status(cluster)] == [
        ("coordinator", True, True),
        ("worker1", True, True),
        ("worker2", True, True),
    ]


def test_down_stops_every_node_and_remove_deletes_the_data(cluster: Cluster) -> None:
    cluster_up(cluster)
    call_command("citus", "down", "--dir", str(cluster.folder), "--port", str(PORT))
    assert not any(n["running"] for n in cluster_status(cluster))
    assert cluster.folder.exists()
    cluster_down(cluster, remove=True)
    assert not cluster.folder.exists()


def test_migrate_on_the_coordinator_makes_the_small_tables_reference_tables(cluster: Cluster) -> None:
    cluster_up(cluster)
    env = child_environment(drop={"DJANGO_SETTINGS_MODULE"}, VAXREG_DATABASE_URL=cluster.url())
    migrated = subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", "migrate", "-v0"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        reference = {
            name
            for (name,) in connection.execute(
                "SELECT table_name::text FROM citus_tables WHERE citus_table_type = 'reference'"
            )
        }
        assert {"places_province", "places_facility", "accounts_user", "vaccinations_vaccine"} <= reference
        identities = connection.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND is_identity = 'YES'"
        ).fetchone()
        assert identities == (0,)  # every id is a sequence default, which Citus can distribute
        connection.execute(
            "INSERT INTO places_province (code, name, short_name, name_key) VALUES ('46', 'Huế', 'Huế', 'hue')"
        )
    worker = cluster.nodes[1]
    with psycopg.connect(f"postgres://postgres@127.0.0.1:{worker.port}/vaxreg") as on_worker:
        copies = on_worker.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'places_province%' AND relkind = 'r'"
        ).fetchone()
        assert copies == (1,)  # the reference table's copy lies on the worker
