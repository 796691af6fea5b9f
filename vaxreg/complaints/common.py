"""What the complaint actions share: the refusal they raise, the history they write, the notices they queue."""

from collections.abc import Mapping
from typing import Any

from vaxreg.complaints.models import Complaint, Notice
from vaxreg.core import clock
from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.models import SourceType
from vaxreg.core.refusals import Refusal
from vaxreg.core.touched import figures_touched

ENTITY = "complaint"


class ComplaintRefused(Refusal):
    """A complaint action that cannot be done as asked (the handlers' API answers 400)."""


class ComplaintInvalid(ComplaintRefused):
    """What a citizen sent cannot be taken as it is: the public API answers 422, naming the field."""

    status = 422


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
    # Complaint figures count where it is handled: its facility, else the province's own desk.
    figures_touched(
        facilities=[complaint.handler_facility_id],
        provinces=[] if complaint.handler_facility_id else [complaint.handler_province_id],
    )


def notice_queue(complaint: Complaint, kind: str, text: str, recipient: str = "") -> None:
    Notice.objects.create(
        complaint=complaint,
        kind=kind,
        recipient=recipient or complaint.phone,
        text=text,
        created_at=clock.now(),
    )
