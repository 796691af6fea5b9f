"""`vaxreg serve`: the web UI and API behind gunicorn, with the background task worker beside it."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext_noop

from config.env import child_environment
from vaxreg.core.i18n import both_languages
from vaxreg.web.secret_key import secret_key_kept, secret_key_require

SERVER_STOPPED = gettext_noop("The server stopped with exit code %(code)s.")


def _server_env(*, demo: bool) -> dict[str, str]:
    """The environment of the children, with the one secret key that every gunicorn worker and the task
    worker share.

    In production it must come from VAXREG_SECRET_KEY (refused otherwise); the demo and a development
    server keep one in the var folder, outside the repository, so that sessions survive a restart.
    """
    env = child_environment(DJANGO_SETTINGS_MODULE=settings.SETTINGS_MODULE)
    if not settings.VAXREG_SECRET_KEY_SET:
        if not demo:
            try:
                secret_key_require()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from exc
        env["VAXREG_SECRET_KEY"] = secret_key_kept(Path(settings.VAR_DIR))
    return env


def _unapplied_migrations() -> int:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _wait_for_port(*, host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes] | None, *, grace: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_run(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    threads: int = 4,
    with_worker: bool = True,
    demo: bool = False,
) -> int:
    """Serve until stopped (Ctrl-C or SIGTERM); returns gunicorn's exit code.

    Refuses (CommandError) to start in production without VAXREG_SECRET_KEY, unless it serves the demo.
    """
    env = _server_env(demo=demo)
    if _unapplied_migrations():
        print(
            "Cảnh báo: cơ sở dữ liệu chưa cập nhật, hãy chạy `vaxreg migrate`.\n"
            "Warning: the database has unapplied migrations; run `vaxreg migrate`.",
            file=sys.stderr,
        )
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    server_cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        # Threads keep one slow upload from holding a whole worker; the import itself runs in the task worker.
        "--worker-class", "gthread", "--threads", str(threads),
        "--timeout", "300",
        # Django is set up once before the workers fork: faster start, less memory, import errors shown at once.
        "--preload",
        "--access-logfile", "-",
        # The control socket lives in one fixed path per user: two servers on one machine would share it.
        "--no-control-socket",
    ]  # fmt: skip
    worker_cmd = [sys.executable, "-m", "vaxreg.cli", "worker", "--no-reload", "--queue-name", "*"]

    # SIGINT too: a process started in the background by a script inherits it ignored.
    stop_signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def _terminate(signum: int, frame: FrameType | None) -> None:
        for other in stop_signals:  # a second Ctrl-C must not cut the children's shutdown short
            signal.signal(other, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, _terminate) for signum in stop_signals}
    worker: subprocess.Popen[bytes] | None = None
    server: subprocess.Popen[bytes] | None = None
    try:
        if with_worker:
            worker = subprocess.Popen(worker_cmd, env=env)
        server = subprocess.Popen(server_cmd, env=env)
        connect_host = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        if _wait_for_port(host=connect_host, port=port, process=server, timeout=60):
            ready, stop = both_languages(gettext_noop("Ready")), both_languages(gettext_noop("to stop"))
            print(f"{ready}: http://{connect_host}:{port}/  (Ctrl-C {stop})", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(server)
        _stop(worker)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Command(BaseCommand):
    help = (
        "Serve the web UI and the API with gunicorn (a production WSGI "
        "server; static files are served by WhiteNoise after collectstatic). Unless --no-worker is "
        "given, `vaxreg worker` (background tasks and the periodic jobs) runs beside it so that uploaded "
        "files are imported in the background; it is stopped when the server stops. "
        "In production (without VAXREG_DEBUG=1) it refuses to start unless VAXREG_SECRET_KEY is set; set "
        "VAXREG_ALLOWED_HOSTS too, and VAXREG_HTTPS=1 when it is reached over HTTPS (see the README's "
        "Production section)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
        parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the background task worker"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = serve_run(
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            threads=options["threads"],
            with_worker=not options["no_worker"],
        )
        if code:
            raise CommandError(both_languages(SERVER_STOPPED, {"code": code}))
