"""Reads of complaints for the staff who handle them, always through the reader's unit (SPEC §2, §7).

A facility sees the complaints it handles until they are escalated (then they are the province's); a
commune health station those handled by a facility of its commune, on the same terms; a province every
complaint handled inside it, escalated ones too; the ministry and the administrators everything, to read.
The police see none. A complaint that joined an earlier one is seen exactly when that one is.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.complaints.common import ENTITY
from vaxreg.complaints.models import OPEN_STATES, Attachment, Complaint, ComplaintState
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS, parse_id_number
from vaxreg.core.history import audit_event_record
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType
from vaxreg.core.text import fold
from vaxreg.corrections.models import AccessChange
from vaxreg.corrections.selectors import access_changes_of_source
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose

CANDIDATES_MAX = 10


class ComplaintNotVisible(Http404):
    """The complaint does not exist or lies outside the reader's unit: both look the same."""


def _unit_q(user: User, prefix: str = "") -> Q | None:
    """The complaints (or, with ``prefix``, the complaints they joined) a user sees; None: nothing."""
    if jurisdiction_of(user).reads_everything:
        return Q()
    if user.role == Role.PROVINCE and user.province_id:
        return Q(**{f"{prefix}handler_province_id": user.province_id})
    if user.role == Role.FACILITY and user.facility_id:
        return Q(**{f"{prefix}handler_facility_id": user.facility_id, f"{prefix}escalated_at__isnull": True})
    if user.role == Role.COMMUNE and user.commune_id:
        return Q(
            **{
                f"{prefix}handler_facility__commune_id": user.commune_id,
                f"{prefix}escalated_at__isnull": True,
            }
        )
    return None


def _addressed_q(user: User) -> Q | None:
    """The complaints the intake sent away from the user's unit, which the citizen named as where they were
    vaccinated, to the unit that holds the record: the named unit reads what the citizen wrote."""
    if user.role == Role.FACILITY and user.facility_id:
        named = Q(facility_id=user.facility_id)
    elif user.role == Role.COMMUNE and user.commune_id:
        named = Q(facility__commune_id=user.commune_id)
    elif user.role == Role.PROVINCE and user.province_id:
        named = Q(province_id=user.province_id)
    else:
        return None
    return Q(rerouted=True) & named


def _handled_q(user: User) -> Q | None:
    """The complaints the user's unit handles (or, for the ministry, reads whole); None: none."""
    own, joined = _unit_q(user), _unit_q(user, "joined_to__")
    if own is None or joined is None:
        return None
    if not own:
        return Q()
    return (Q(joined_to__isnull=True) & own) | (Q(joined_to__isnull=False) & joined)


def complaints_for_user(*, user: Any) -> QuerySet[Complaint]:
    complaints = Complaint.objects.all()
    if not user.is_authenticated or not user.is_active:
        return complaints.none()
    handled, addressed = _handled_q(user), _addressed_q(user)
    if handled is None:
        return complaints.none()
    if not handled:
        return complaints
    return complaints.filter(handled | addressed if addressed is not None else handled)


def _with_handled_here(complaints: QuerySet[Complaint], user: Any) -> QuerySet[Complaint]:
    """Each complaint says (``handled_here``) whether the reader's unit handles it (or reads everything):
    otherwise the unit is only the one the citizen named, and reads only what the citizen wrote — not the
    handler, the records, the history or the joined complaints."""
    handled = _handled_q(user) if user.is_authenticated and user.is_active else None
    # No handled units: nothing is handled here; every unit (the ministry): everything is.
    here = handled if handled else Q(pk__isnull=handled is None)
    return complaints.annotate(handled_here=ExpressionWrapper(here, output_field=BooleanField()))


def access_complaint_by_id(*, user: Any, complaint_id: int) -> Complaint:
    """The complaint if the user may read it (with ``handled_here``); otherwise ``ComplaintNotVisible``
    (404), never a hint."""
    complaint = (
        _with_handled_here(complaints_for_user(user=user), user)
        .select_related(
            "handler_facility", "handler_province", "facility", "province", "commune", "joined_to"
        )
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        raise ComplaintNotVisible(f"complaint {complaint_id}")
    return complaint


# -- the inbox -----------------------------------------------------------------------------------------------

# state filter → states shown; the default is what still needs work.
STATE_FILTERS: dict[str, tuple[str, ...]] = {
    "": tuple(OPEN_STATES),
    ComplaintState.OPEN: (ComplaintState.OPEN,),
    ComplaintState.DEFERRED: (ComplaintState.DEFERRED,),
    "closed": (ComplaintState.APPROVED, ComplaintState.REJECTED),
    ComplaintState.APPROVED: (ComplaintState.APPROVED,),
    ComplaintState.REJECTED: (ComplaintState.REJECTED,),
}


@dataclass(frozen=True)
class InboxFilter:
    state: str = ""  # a key of STATE_FILTERS
    category: int | None = None
    overdue: bool = False


def complaint_inbox(
    *, user: Any, filters: InboxFilter, now: dt.datetime | None = None
) -> QuerySet[Complaint]:
    """The complaints a handler works through: the most urgent first (overdue at the top); closed ones by
    when they closed. Rows carry their facilities and the number of complaints that joined them."""
    now = now or clock.now()
    states = STATE_FILTERS.get(filters.state, STATE_FILTERS[""])
    joined = (
        Complaint.objects.filter(joined_to=OuterRef("pk"))
        .order_by()
        .values("joined_to")
        .annotate(n=Count("pk"))
        .values("n")
    )
    complaints = (
        _with_handled_here(complaints_for_user(user=user), user)
        .filter(state__in=states, joined_to__isnull=True)
        .select_related("handler_facility", "handler_province")
        .annotate(joined_count=Coalesce(Subquery(joined, output_field=IntegerField()), 0))
    )
    if filters.category:
        complaints = complaints.filter(category=filters.category)
    if filters.overdue:
        complaints = complaints.filter(state__in=OPEN_STATES, due_at__lt=now)
    if set(states) <= set(OPEN_STATES):
        return complaints.order_by("due_at", "pk")
    return complaints.order_by("-closed_at", "due_at", "-pk")


def time_left(due_at: dt.datetime, now: dt.datetime) -> tuple[bool, str]:
    """(overdue, the words in the active language): "còn 5 giờ 20 phút" / "5 h 20 min left", or how long
    overdue."""
    seconds = int((due_at - now).total_seconds())
    overdue = seconds < 0
    minutes = abs(seconds) // 60
    hours, mins = minutes // 60, minutes % 60
    # Inside the 48-hour window hours read best; past it, days.
    if hours > 48:
        span = gettext("%(days)d d %(hours)d h") % {"days": hours // 24, "hours": hours % 24}
    elif hours:
        span = gettext("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": mins}
    else:
        span = gettext("%(minutes)d min") % {"minutes": mins}
    if overdue:
        return True, gettext("overdue by %(time)s") % {"time": span}
    return False, gettext("%(time)s left") % {"time": span}


# -- one complaint -------------------------------------------------------------------------------------------


def complaint_attachments(complaint: Complaint) -> list[Attachment]:
    return list(Attachment.objects.filter(complaint=complaint).order_by("position"))


def complaint_joined(complaint: Complaint) -> list[Complaint]:
    """The later complaints that joined this one, oldest first."""
    return list(Complaint.objects.filter(joined_to=complaint).order_by("received_at", "pk"))


def complaint_access_changes(complaint: Complaint) -> list[AccessChange]:
    """The changes of access fields the complaint's approval asked for, and what became of them."""
    return list(access_changes_of_source(source_type=SourceType.COMPLAINT, source_id=complaint.tracking_code))


def complaint_history(complaint: Complaint) -> list[ChangeRecord]:
    """What happened to the complaint, oldest first, with who did it."""
    return list(
        ChangeRecord.objects.filter(entity=ENTITY, entity_id=complaint.pk)
        .select_related("actor")
        .order_by("at", "pk")
    )


def _claimed_birth_year(complaint: Complaint) -> int | None:
    text = complaint.birth_date.strip()
    year = text[-4:]
    return int(year) if len(text) >= 4 and year.isdigit() else None


def complaint_candidates(*, user: Any, complaint: Complaint) -> list[Person]:
    """The persons the complaint may be about, each with its doses (two queries) — only persons the reader
    sees by the ordinary rules (residence or doses): a complaint never opens a record.

    First the person the complaint was matched to at intake, when the reader sees it; then, inside the
    reader's jurisdiction, the persons with the same ID number, or, when no ID number matches, the same
    folded name and birth year. A unit that only reads what the citizen wrote (``handled_here`` false) is
    shown none.
    """
    if not getattr(complaint, "handled_here", True):
        return []
    doses = Prefetch(
        "doses",
        queryset=Dose.objects.select_related("vaccine", "facility").order_by(
            "vaccination_date", "dose_number", "pk"
        ),
    )
    parsed = parse_id_number(complaint.id_number) if complaint.id_number else None
    scoped = jurisdiction_of(user).persons_visible(Person.objects.all())
    by_id = Q(id_number=parsed.number) if parsed is not None and parsed.kind in USABLE_ID_KINDS else None
    year = _claimed_birth_year(complaint)
    by_name = (
        Q(name_key=fold(complaint.full_name), birth_year=year)
        if year
        else Q(name_key=fold(complaint.full_name))
    )
    wanted = Q(pk=complaint.person_id) if complaint.person_id else Q(pk__in=[])
    if by_id is not None and scoped.filter(by_id).exists():
        wanted |= by_id
    else:
        wanted |= by_name
    persons = list(
        scoped.filter(wanted)
        .select_related("commune")
        .prefetch_related(doses)
        .order_by("pk")[: CANDIDATES_MAX + 1]
    )
    persons.sort(key=lambda p: (p.pk != complaint.person_id, p.pk))
    return persons[:CANDIDATES_MAX]


def complaint_person_allowed(*, user: Any, person_id: int) -> bool:
    """Whether an approval may touch this person: only one the handler sees by the ordinary rules, whoever
    the complaint was matched to."""
    return jurisdiction_of(user).persons_visible(Person.objects.filter(pk=person_id)).exists()


def complaint_proof_read(*, user: Any, complaint_id: int, position: int) -> tuple[Attachment, bytes]:
    """A proof file's stored bytes, for the complaint's handlers only; every read is audited.

    The ministry and administrators read complaints but not the citizens' photos. A file whose stored path
    would lead outside ``MEDIA_ROOT`` or that is gone is treated as absent.
    """
    if not user_can(user, Capability.COMPLAINT_HANDLE):
        raise ComplaintNotVisible(f"complaint {complaint_id} proof {position}")
    complaint = access_complaint_by_id(user=user, complaint_id=complaint_id)
    attachment = Attachment.objects.filter(complaint=complaint, position=position).first()
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / attachment.storage_path).resolve() if attachment else None
    if attachment is None or path is None or not path.is_relative_to(root) or not path.is_file():
        raise ComplaintNotVisible(f"complaint {complaint_id} proof {position}")
    content = path.read_bytes()
    audit_event_record(
        action=AuditEvent.Action.COMPLAINT_PROOF_READ,
        actor_id=user.pk,
        object_type=ENTITY,
        object_id=str(complaint.pk),
        detail={"position": position, "sha256": attachment.sha256, "content_type": attachment.content_type},
    )
    return attachment, content


def complaint_full_id_number(*, user: Any, complaint_id: int) -> tuple[Complaint, str]:
    """The unmasked ID number the citizen gave; every such read is written to the audit log."""
    complaint = access_complaint_by_id(user=user, complaint_id=complaint_id)
    audit_event_record(
        action=AuditEvent.Action.FULL_ID_READ,
        actor_id=user.pk,
        object_type=ENTITY,
        object_id=str(complaint.pk),
        detail={"tracking_code": complaint.tracking_code},
    )
    return complaint, complaint.id_number
