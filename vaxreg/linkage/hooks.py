"""What linkage does after an import or a correction (registered on ``imports.hooks`` and
``corrections.hooks`` in ``LinkageConfig.ready``): link the persons it created or changed against everyone."""

from django.conf import settings
from django.db import transaction


def link_after_import(batch_id: int, person_ids: set[int], provinces: set[str]) -> None:
    """Up to ``VAXREG_LINKAGE_INLINE_MAX`` persons are linked in the import's transaction (their warnings
    commit with it); a larger import queues a linkage task when it commits."""
    if not settings.VAXREG_LINKAGE_ON_IMPORT or not person_ids:
        return
    if len(person_ids) <= settings.VAXREG_LINKAGE_INLINE_MAX:
        from vaxreg.linkage.services import linkage_link_persons

        linkage_link_persons(person_ids=person_ids)
        return
    from vaxreg.linkage.tasks import linkage_link_task

    ids = sorted(person_ids)
    transaction.on_commit(lambda: linkage_link_task.enqueue(ids))


def link_after_correction(person_id: int, actor_id: int | None) -> None:
    """A corrected person is linked again: a pair it no longer resembles closes, a new one opens, and a
    "not the same" decision on it may be asked again (the person changed)."""
    if not settings.VAXREG_LINKAGE_ON_IMPORT:
        return
    from vaxreg.linkage.services import linkage_link_persons

    linkage_link_persons(person_ids=[person_id])
