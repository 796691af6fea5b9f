"""Reads of verification cases, always through the reader's unit (SPEC §2).

Health stations see their commune's cases; the commune police only the cases escalated to them; a
province its province's; a facility the cases of persons whose latest dose it gave; the ministry all.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core import clock
from vaxreg.core.database import is_citus
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.text import fold
from vaxreg.core.touched import BaseUnits, UnitCount
from vaxreg.people.selectors import person_full_id_read
from vaxreg.verification.models import ACTIVE_STATES, CaseState, ContactAttempt, VerificationCase


class CaseNotVisible(Http404):
    """The case does not exist or lies outside the reader's unit: both look the same."""


def cases_for_user(*, user: User) -> QuerySet[VerificationCase]:
    cases = VerificationCase.objects.all()
    if not user.is_authenticated or not user.is_active:
        return cases.none()
    if jurisdiction_of(user).reads_everything:
        return cases
    if user.role == Role.PROVINCE and user.province_id:
        return cases.filter(province_id=user.province_id)
    if user.role == Role.COMMUNE and user.commune_id:
        return cases.filter(commune_id=user.commune_id)
    if user.role == Role.POLICE and user.commune_id:
        return cases.filter(commune_id=user.commune_id, escalated_at__isnull=False)
    if user.role == Role.FACILITY and user.facility_id:
        return cases.filter(facility_id=user.facility_id)
    return cases.none()


def access_case_by_id(*, user: User, case_id: int, for_update: bool = False) -> VerificationCase:
    """The case if the user may read it; otherwise ``CaseNotVisible`` (404), never a hint that it exists."""
    cases = cases_for_user(user=user).select_related("person", "commune", "assigned_to")
    if for_update and is_citus(connection):
        # Citus locks no row of a query that joins a distributed table (the person): the case alone first.
        VerificationCase.objects.select_for_update().filter(pk=case_id).values_list("pk").first()
    elif for_update:
        cases = cases.select_for_update(of=("self",))
    case = cases.filter(pk=case_id).first()
    if case is None:
        raise CaseNotVisible(f"case {case_id}")
    return case


def case_full_id_number(*, user: User, case_id: int) -> tuple[VerificationCase, str]:
    """The full ID number of the case's person, for whoever may read the case (the commune police compare
    it with the population register); the read is audited as every full-ID read of a person is."""
    case = access_case_by_id(user=user, case_id=case_id)
    return case, person_full_id_read(user=user, person=case.person, via={"verification_case": case.pk})


AGE_GROUPS: dict[str, tuple[int, int]] = {
    "0-17": (0, 17),
    "18-39": (18, 39),
    "40-59": (40, 59),
    "60+": (60, 200),
}


@dataclass(frozen=True)
class WorklistFilter:
    state: str = ""  # a CaseState, "active" (default) or "all"
    code: str = ""  # a rule code among the case's blocking codes
    facility_id: int | None = None
    age_group: str = ""  # a key of AGE_GROUPS
    text: str = ""  # name (with or without diacritics), ID or phone
    assigned_to_id: int | None = None
    commune_code: str = ""  # one commune of a province's (or the nation's) cases


def worklist(
    *, user: User, filters: WorklistFilter, today: dt.date | None = None
) -> QuerySet[VerificationCase]:
    """The cases a user works through, filtered; oldest first. Rows carry their person (one query)."""
    cases = cases_for_user(user=user).select_related("person", "facility", "assigned_to")
    state = filters.state or "active"
    if state == "active":
        cases = cases.exclude(state__in=[CaseState.RESOLVED, CaseState.UNVERIFIABLE])
    elif state != "all":
        cases = cases.filter(state=state)
    if filters.code:
        # JSON containment differs between the databases; the codes are few and short, so a text match on
        # the quoted code is exact and portable.
        cases = cases.filter(codes__icontains=f'"{filters.code}"')
    if filters.facility_id:
        cases = cases.filter(facility_id=filters.facility_id)
    if filters.commune_code:
        cases = cases.filter(commune_id=filters.commune_code)
    if filters.assigned_to_id:
        cases = cases.filter(assigned_to_id=filters.assigned_to_id)
    if filters.age_group in AGE_GROUPS:
        youngest, oldest = AGE_GROUPS[filters.age_group]
        year = (today or clock.today()).year
        cases = cases.filter(person__birth_year__gte=year - oldest, person__birth_year__lte=year - youngest)
    text = filters.text.strip()
    if text:
        digits = "".join(ch for ch in text if ch.isalnum())
        q = Q(person__name_key__contains=fold(text))
        if digits and any(ch.isdigit() for ch in digits):
            q |= Q(person__id_number=digits.upper()) | Q(person__phone__endswith=digits[-9:])
        cases = cases.filter(q)
    return cases.order_by("opened_at", "pk")


def case_contacts(case: VerificationCase) -> list[ContactAttempt]:
    return list(ContactAttempt.objects.filter(case=case).select_related("actor"))


def staff_of_station(*, user: User) -> list[Any]:
    """Health workers to whom the user's station can assign cases."""
    if not user_can(user, Capability.CASE_WORK):
        return []
    return list(
        User.objects.filter(role=Role.COMMUNE, commune_id=user.commune_id, is_active=True).order_by(
            "username"
        )
    )


def case_figures(units: BaseUnits) -> Iterator[UnitCount]:
    """Per commune (a case always has one): the cases by state, and the active ones by the day they
    opened (``case_opened``, key ``YYYY-MM-DD``), from which a page reads their age on any later day."""
    cases = VerificationCase.objects.filter(units.placed_q("commune_id", "province_id"))
    for g in cases.values("commune_id", "province_id", "state").annotate(n=Count("pk")).order_by():
        yield g["commune_id"], g["province_id"], "cases", g["state"], g["n"]
    active = (
        cases.filter(state__in=ACTIVE_STATES)
        .annotate(day=TruncDate("opened_at"))
        .values("commune_id", "province_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for a in active:
        yield a["commune_id"], a["province_id"], "case_opened", a["day"].isoformat(), a["n"]
