"""What the complaint actions share: the refusal they raise, the history they write, the notices they queue."""

from collections.abc import Mapping
from typing import Any

from vaxreg.complaints.models import Complaint, Notice
from vaxreg.core import clock
from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.models import SourceType

ENTITY = "complaint"


class ComplaintRefused(Exception):
    def __init__(self, message_vi: str, message_en: str, *, field: str = "") -> None:
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field


def complaint_history_write(
    complaint: Complaint, changes: Mapping[str, tuple[Any, Any]], *, actor_id: int | None, reason: str
) -> None:
    record_change(
        entity=ENTITY,
        entity_id=complaint.pk,
        changes=changes,
        source=ChangeSource(
            type=SourceType.COMPLAINT, id=complaint.tracking_code, reason=reason, actor_id=actor_id
        ),
    )


def notice_queue(complaint: Complaint, kind: str, text: str, recipient: str = "") -> None:
    Notice.objects.create(
        complaint=complaint,
        kind=kind,
        recipient=recipient or complaint.phone,
        text=text,
        created_at=clock.now(),
    )
