"""A local Citus cluster: a coordinator and workers on 127.0.0.1, each a PostgreSQL server of its own.

For development, CI and the benches; production installs the Citus packages on separate machines and adds
the workers the same way (``citus_add_node``). Each node has its own data directory under one folder, its
own port (the coordinator the first, the workers the next ones), ``shared_preload_libraries = 'citus'``
and trust authentication on 127.0.0.1 only. The database is created on every node with the extension, and
the workers are added to the coordinator. PostgreSQL refuses to run as root: as root the servers run as
the ``postgres`` account, which then owns the folder.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_FOLDER = Path("/tmp/vaxreg-citus")
DEFAULT_PORT = 9700
DEFAULT_WORKERS = 2
DATABASE = "vaxreg"
START_TIMEOUT_SECONDS = 60


class ClusterError(Exception):
    """A step of starting or stopping the cluster failed; the message says which and why."""


@dataclass(frozen=True)
class Node:
    name: str  # coordinator, worker1, worker2, ...
    port: int
    folder: Path

    @property
    def data(self) -> Path:
        return self.folder / self.name

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"


@dataclass(frozen=True)
class Cluster:
    folder: Path = DEFAULT_FOLDER
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS

    @property
    def nodes(self) -> list[Node]:
        names = ["coordinator", *(f"worker{i}" for i in range(1, self.workers + 1))]
        return [Node(name, self.port + i, self.folder) for i, name in enumerate(names)]

    @property
    def coordinator(self) -> Node:
        return self.nodes[0]

    def url(self, database: str = DATABASE) -> str:
        """What ``VAXREG_DATABASE_URL`` is set to for the product to run on this cluster."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


@cache  # asked for every command the cluster runs; pg_config answers the same each time
def postgres_bin() -> Path:
    """The PostgreSQL server programs (``pg_config --bindir``; Debian's 15 when pg_config is missing)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(found.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    return Path("/usr/lib/postgresql/15/bin")


def citus_installed() -> bool:
    pg_config = shutil.which("pg_config") or str(postgres_bin() / "pg_config")
    found = subprocess.run([pg_config, "--pkglibdir"], capture_output=True, text=True, check=False)
    return found.returncode == 0 and (Path(found.stdout.strip()) / "citus.so").exists()


def _as_server_account(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(_as_server_account(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ClusterError(f"{what}: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def _sql(node: Node, sql: str, *, database: str = DATABASE) -> str:
    psql = postgres_bin() / "psql"
    if not psql.exists():
        psql = Path(shutil.which("psql") or "psql")
    command = [str(psql), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(node.port)]
    return _run([*command, "-U", "postgres", "-d", database, "-c", sql], f"{node.name}: {sql}")


def node_running(node: Node) -> bool:
    if not (node.data / "PG_VERSION").exists():
        return False
    done = subprocess.run(
        _as_server_account([str(postgres_bin() / "pg_ctl"), "status", "-D", str(node.data)]),
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _initialise(node: Node) -> None:
    _run(
        [
            str(postgres_bin() / "initdb"),
            "-D",
            str(node.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],  # fmt: skip
        f"{node.name}: initdb",
    )
    settings = (
        f"\n# vaxreg citus up\nport = {node.port}\nlisten_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{node.data}'\nshared_preload_libraries = 'citus'\n"
        "max_connections = 300\nmax_prepared_transactions = 300\n"
    )
    with (node.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(settings)


def cluster_up(cluster: Cluster) -> list[str]:
    """Start every node (creating those that do not exist), put the extension in ``template1`` (closed to
    connections then: see ``_template_ready``) and ``postgres`` of each (so every database made later has
    it: a test database too), let the coordinator
    make a new database on the workers as well (``citus.enable_create_database_propagation``), register the
    workers in its ``postgres`` (where ``citus_prepare`` finds them for a new database) and create the
    database with the workers added. Safe to run again. What it did, one line per step."""
    if not citus_installed():
        raise ClusterError(
            "Citus is not installed in this PostgreSQL: run ../shared/vendor/citus/build.sh "
            "(or install the Citus packages)"
        )
    done: list[str] = []
    cluster.folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(cluster.folder, "postgres", "postgres")
    for node in cluster.nodes:
        if not (node.data / "PG_VERSION").exists():
            _initialise(node)
            done.append(f"{node.name}: created in {node.data}")
        if not node_running(node):
            node_start(node)
            done.append(f"{node.name}: started on 127.0.0.1:{node.port}")
        _template_ready(node)
        _sql(node, "CREATE EXTENSION IF NOT EXISTS citus", database="postgres")
    coordinator = cluster.coordinator
    if (
        _sql(coordinator, "SHOW citus.enable_create_database_propagation", database="postgres").strip()
        != "on"
    ):
        _sql(
            coordinator, "ALTER SYSTEM SET citus.enable_create_database_propagation = on", database="postgres"
        )
        _sql(coordinator, "SELECT pg_reload_conf()", database="postgres")
    done += _nodes_add(cluster, "postgres")
    exists = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
    if not _sql(coordinator, exists, database="postgres"):
        _sql(coordinator, f"CREATE DATABASE {DATABASE}", database="postgres")  # on the workers too
        done.append(f"database {DATABASE} created on every node")
    done += _nodes_add(cluster, DATABASE)
    return done


def _template_ready(node: Node) -> None:
    """Put the extension in the node's ``template1``, then close ``template1`` to connections.

    Citus runs a maintenance daemon connected to every database that has the extension, and PostgreSQL
    refuses to copy a template anyone is connected to ("source database "template1" is being accessed by
    other users"): every ``CREATE DATABASE`` (a test database) would race the daemon and fail when it lost,
    as it did in CI. A closed template is still copied (``template0`` is one); nobody needs to connect to it.
    """
    allowed = "SELECT datallowconn FROM pg_database WHERE datname = 'template1'"
    if _sql(node, allowed, database="postgres").strip() != "t":
        return
    _sql(node, "CREATE EXTENSION IF NOT EXISTS citus", database="template1")
    _sql(
        node,
        "SET citus.enable_ddl_propagation TO off; ALTER DATABASE template1 ALLOW_CONNECTIONS false; "
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'template1'",
        database="postgres",
    )


def _nodes_add(cluster: Cluster, database: str) -> list[str]:
    coordinator = cluster.coordinator
    _sql(
        coordinator, f"SELECT citus_set_coordinator_host('127.0.0.1', {coordinator.port})", database=database
    )
    known = set(_sql(coordinator, "SELECT nodeport FROM pg_dist_node", database=database).split())
    done = []
    for node in cluster.nodes[1:]:
        if str(node.port) not in known:
            _sql(coordinator, f"SELECT citus_add_node('127.0.0.1', {node.port})", database=database)
            done.append(f"{node.name}: added to the coordinator ({database})")
    return done


def cluster_down(cluster: Cluster, *, remove: bool = False) -> list[str]:
    """Stop every node (fast shutdown: open sessions are ended); ``remove`` deletes the data too."""
    done: list[str] = []
    for node in reversed(cluster.nodes):
        if node_running(node):
            _run(
                [str(postgres_bin() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(node.data)],
                f"{node.name}: stop",
            )
            done.append(f"{node.name}: stopped")
    if remove and cluster.folder.exists():
        shutil.rmtree(cluster.folder)
        done.append(f"{cluster.folder} removed")
    return done


def node_stop(node: Node) -> None:
    """Stop one node at once (the failure drill: a worker gone in the middle of a write)."""
    _run(
        [str(postgres_bin() / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(node.data)],
        f"{node.name}: stop",
    )


def node_start(node: Node) -> None:
    pg_ctl = str(postgres_bin() / "pg_ctl")
    timeout = str(START_TIMEOUT_SECONDS)
    command = [pg_ctl, "start", "-w", "-t", timeout, "-D", str(node.data), "-l", str(node.log)]
    _run(command, f"{node.name}: start (log: {node.log})")


def cluster_status(cluster: Cluster) -> list[dict[str, object]]:
    """Each node: its port, whether it runs, and (from the coordinator) whether it is an active node."""
    active: set[str] = set()
    if node_running(cluster.coordinator):
        try:
            active = set(
                _sql(cluster.coordinator, "SELECT nodeport FROM pg_dist_node WHERE isactive").split()
            )
        except ClusterError:
            active = set()
    return [
        {
            "node": node.name,
            "port": node.port,
            "running": node_running(node),
            "in_cluster": str(node.port) in active,
            "data": str(node.data),
        }
        for node in cluster.nodes
    ]
