"""Background linkage: the persons of an import too large to link inside its own transaction."""

from django_tasks import task


@task()
def linkage_link_task(person_ids: list[int]) -> None:
    from vaxreg.linkage.services import linkage_link_persons

    linkage_link_persons(person_ids=person_ids)
