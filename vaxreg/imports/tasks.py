import datetime as dt

from django_tasks import task

from vaxreg.core.periodic import periodic_register
from vaxreg.imports.services import import_batch_run, import_batches_interrupted_close


@task()
def import_batch_run_task(batch_id: int) -> None:
    """Import an uploaded file in the background."""
    import_batch_run(batch_id=batch_id)


periodic_register(
    "import_batches_interrupted_close", every=dt.timedelta(minutes=1), func=import_batches_interrupted_close
)
