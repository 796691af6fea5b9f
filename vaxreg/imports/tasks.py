from django_tasks import task

from vaxreg.imports.services import import_batch_run


@task()
def import_batch_run_task(batch_id: int) -> None:
    """Import an uploaded file in the background."""
    import_batch_run(batch_id=batch_id)
