"""`vaxreg worker`: the background task worker, with the periodic jobs beside it."""

import threading
from argparse import ArgumentParser
from typing import Any

from django.utils.translation import gettext_noop
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from config.env import autoreload_child
from vaxreg.core.i18n import both_languages
from vaxreg.core.periodic import periodic_autodiscover, periodic_loop, periodic_round

# A job that is running when the worker is told to stop gets this long to finish.
STOP_GRACE_SECONDS = 60.0


class Command(DbWorkerCommand):
    help = (
        "Run the background worker: the queued tasks (imports uploaded through the web, large re-scans) "
        "in the main thread, as django-tasks' db_worker does, and in a second thread the periodic jobs "
        "every app registers — the complaints' 48-hour clock and sending their notices every minute, "
        "pruning old rate-limit counters every hour, closing every minute the imports and task rows a killed "
        "worker left running (each task runs under a lock of its own, which its worker's death releases). "
        "Run as many workers as you like: each periodic job "
        "runs under a lock of its own (PostgreSQL advisory lock; on SQLite a file lock beside the "
        "database), so two workers never run the same job at once, and the time of its last run is kept "
        "in the database, so a restart neither repeats nor skips a job. Ctrl-C or SIGTERM stops both: the "
        "task and the job that are running finish first (a second Ctrl-C stops at once). With --batch it "
        "runs the periodic jobs that are due once, then the queued tasks, and exits (for cron)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-periodic", action="store_true", help="run the queued tasks only, not the periodic jobs"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        periodic = not options.pop("no_periodic")
        # With --reload the first process only watches the files; the process it starts does the work.
        watcher = options["reload"] and not options["batch"] and not autoreload_child()
        if not periodic or watcher:
            super().handle(*args, **options)
            return
        jobs = periodic_autodiscover()
        if options["verbosity"]:
            listed = ", ".join(f"{job.name} ({job.every.total_seconds():g} s)" for job in jobs)
            self.stdout.write(f"{both_languages(gettext_noop('periodic jobs'))}: {listed}")
        if options["batch"]:
            periodic_round(jobs)
            super().handle(*args, **options)
            return
        stop = threading.Event()
        scheduler = threading.Thread(
            target=periodic_loop, args=(jobs,), kwargs={"stop": stop}, name="vaxreg-periodic", daemon=True
        )
        scheduler.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
            scheduler.join(timeout=STOP_GRACE_SECONDS)
