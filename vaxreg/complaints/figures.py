"""Complaint figures per facility and per province (SPEC §9): received, resolved on time or late, still
open by age, escalated — each a conditional count in one aggregate query per level.

A facility sees its own row, a commune health station the facilities of its commune, a province its
facilities (and what its health department handles itself) with the province's total, the ministry every
province with the national total. Escalated complaints still count for the facility that let them run
late. Complaints that joined an earlier one are not counted again.
"""

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import Role
from vaxreg.complaints.models import OPEN_STATES, Complaint, ComplaintState
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.touched import BaseUnits, UnitCount

MEASURES = (
    "received",
    "resolved_on_time",
    "resolved_late",
    "still_open",
    "open_under_24h",
    "open_24_to_48h",
    "open_over_48h",
    "late",
)


@dataclass(frozen=True)
class FigureRow:
    level: str  # "facility", "province" (a health department's own, or a province), "commune" or "nation"
    code: str
    name: str
    received: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    still_open: int = 0
    open_under_24h: int = 0
    open_24_to_48h: int = 0
    open_over_48h: int = 0
    late: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "name": self.name} | {
            m: getattr(self, m) for m in MEASURES
        }


@dataclass(frozen=True)
class Figures:
    rows: list[FigureRow]
    total: FigureRow | None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    at: dt.datetime = field(default_factory=clock.now)


def _measures(now: dt.datetime) -> dict[str, Any]:
    closed = Q(state__in=[ComplaintState.APPROVED, ComplaintState.REJECTED], closed_at__isnull=False)
    open_ = Q(state__in=OPEN_STATES)
    day, two_days = now - dt.timedelta(hours=24), now - dt.timedelta(hours=48)
    return {
        "received": Count("pk"),
        "resolved_on_time": Count("pk", filter=closed & Q(closed_at__lte=F("due_at"))),
        "resolved_late": Count("pk", filter=closed & Q(closed_at__gt=F("due_at"))),
        "still_open": Count("pk", filter=open_),
        "open_under_24h": Count("pk", filter=open_ & Q(received_at__gt=day)),
        "open_24_to_48h": Count("pk", filter=open_ & Q(received_at__lte=day, received_at__gt=two_days)),
        "open_over_48h": Count("pk", filter=open_ & Q(received_at__lte=two_days)),
        "late": Count("pk", filter=Q(escalated_at__isnull=False)),
    }


def _scoped(user: Any) -> QuerySet[Complaint] | None:
    complaints = Complaint.objects.exclude(state=ComplaintState.JOINED)
    if jurisdiction_of(user).reads_everything:
        return complaints
    if user.role == Role.PROVINCE and user.province_id:
        return complaints.filter(handler_province_id=user.province_id)
    if user.role == Role.COMMUNE and user.commune_id:
        return complaints.filter(handler_facility__commune_id=user.commune_id)
    if user.role == Role.FACILITY and user.facility_id:
        return complaints.filter(handler_facility_id=user.facility_id)
    return None


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _counts(values: Mapping[str, Any]) -> dict[str, int]:
    return {m: int(values.get(m) or 0) for m in MEASURES}


def _province_rows(complaints: QuerySet[Complaint], measures: dict[str, Any]) -> list[FigureRow]:
    grouped = (
        complaints.values("handler_province_id", "handler_province__name")
        .annotate(**measures)
        .order_by("handler_province_id")
    )
    return [
        FigureRow(
            level="province", code=g["handler_province_id"], name=g["handler_province__name"], **_counts(g)
        )
        for g in grouped
    ]


def _facility_rows(complaints: QuerySet[Complaint], measures: dict[str, Any]) -> list[FigureRow]:
    """One row per handling facility; what a health department handles itself is its own row."""
    grouped = (
        complaints.values(
            "handler_facility_id", "handler_facility__code", "handler_facility__name", "handler_province_id"
        )
        .annotate(**measures)
        # The health departments' own rows after the facilities', the same on every database.
        .order_by(F("handler_facility__code").asc(nulls_last=True), "handler_province_id")
    )
    rows = []
    for g in grouped:
        if g["handler_facility_id"] is None:
            row = FigureRow(
                level="province",
                code=g["handler_province_id"],
                name=both_languages(gettext_noop("health department")),
                **_counts(g),
            )
        else:
            row = FigureRow(
                level="facility",
                code=g["handler_facility__code"],
                name=g["handler_facility__name"],
                **_counts(g),
            )
        rows.append(row)
    return rows


def complaint_figures(
    *, user: Any, received_from: dt.date | None = None, received_to: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Figures:  # fmt: skip
    """The figures of the user's unit for complaints received in the (local) date range, both ends included."""
    now = now or clock.now()
    complaints = _scoped(user)
    if complaints is None:
        return Figures(rows=[], total=None, received_from=received_from, received_to=received_to, at=now)
    if received_from:
        complaints = complaints.filter(received_at__gte=_day_start(received_from))
    if received_to:
        complaints = complaints.filter(received_at__lt=_day_start(received_to + dt.timedelta(days=1)))
    measures = _measures(now)
    total = FigureRow(level="", code="", name="", **_counts(complaints.aggregate(**measures)))
    if jurisdiction_of(user).reads_everything:
        rows = _province_rows(complaints, measures)
        total = replace(total, level="nation", code="VN", name=both_languages(gettext_noop("nationwide")))
    else:
        rows = _facility_rows(complaints, measures)
        unit = user.province_id if user.role == Role.PROVINCE else user.commune_id
        total = replace(
            total, level=str(user.role), code=unit or "", name=both_languages(gettext_noop("total"))
        )
    return Figures(
        rows=rows,
        total=None if user.role == Role.FACILITY else total,
        received_from=received_from,
        received_to=received_to,
        at=now,
    )


def complaint_unit_figures(units: BaseUnits) -> Iterator[UnitCount]:
    """Per handling facility (else the province's own desk): the complaints received, resolved on time,
    resolved late, escalated past the 48 hours and still open; and the open ones by the hour they fall due
    (``complaint_due``, key ``YYYY-MM-DDTHH`` in UTC), from which a page reads the time each has left."""
    complaints = Complaint.objects.exclude(state=ComplaintState.JOINED).filter(
        units.handled_q("handler_facility_id", "handler_province_id")
    )
    place = ("handler_facility_id", "handler_province_id")
    closed = Q(state__in=[ComplaintState.APPROVED, ComplaintState.REJECTED], closed_at__isnull=False)
    grouped = (
        complaints.values(*place)
        .annotate(
            received=Count("pk"),
            on_time=Count("pk", filter=closed & Q(closed_at__lte=F("due_at"))),
            resolved_late=Count("pk", filter=closed & Q(closed_at__gt=F("due_at"))),
            escalated=Count("pk", filter=Q(escalated_at__isnull=False)),
            open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        )
        .order_by()
    )
    for g in grouped:
        for figure in ("received", "on_time", "resolved_late", "escalated", "open"):
            yield g[place[0]], g[place[1]], f"complaints_{figure}", "", g[figure]
    due = (
        complaints.filter(state__in=OPEN_STATES)
        .annotate(hour=TruncHour("due_at", tzinfo=dt.UTC))
        .values(*place, "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for g in due:
        yield g[place[0]], g[place[1]], "complaint_due", g["hour"].strftime("%Y-%m-%dT%H"), g["n"]
