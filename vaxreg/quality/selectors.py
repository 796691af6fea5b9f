"""Reads of stored findings."""

from collections.abc import Iterator

from django.db.models import Count, Q

from vaxreg.core.touched import BaseUnits, UnitCount
from vaxreg.quality.models import Finding, Severity
from vaxreg.quality.rules import RULES

# The four mandatory citizen fields (SPEC §3, Công văn 8938): a person whose record has no open blocking
# finding about them has all four present and agreeing with the CCCD (ID_GENDER_MISMATCH and
# ID_BIRTHYEAR_MISMATCH are about these fields too).
CITIZEN_FIELDS = frozenset({"full_name", "date_of_birth", "gender", "id_number"})
CITIZEN_FIELD_CODES = tuple(
    sorted(r.code for r in RULES if r.severity == Severity.BLOCKING and set(r.fields) <= CITIZEN_FIELDS)
)


def open_findings_by_code() -> dict[str, int]:
    rows = Finding.objects.filter(is_open=True).values("code").annotate(n=Count("id")).order_by("code")
    return {row["code"]: row["n"] for row in rows}


def finding_figures(units: BaseUnits) -> Iterator[UnitCount]:
    """Per commune of the person's residence (else province, else nation): the open findings by rule code,
    and the persons with an open blocking finding about a mandatory citizen field (``incomplete``)."""
    open_ = Finding.objects.filter(
        units.placed_q("person__commune_id", "person__province_id"),
        is_open=True,
        person__merged_into__isnull=True,
    )
    place = ("person__commune_id", "person__province_id")
    for g in open_.values(*place, "code").annotate(n=Count("pk")).order_by():
        yield g[place[0]], g[place[1]], "findings", g["code"], g["n"]
    incomplete = (
        open_.filter(Q(code__in=CITIZEN_FIELD_CODES))
        .values(*place)
        .annotate(n=Count("person_id", distinct=True))
        .order_by()
    )
    for g in incomplete:
        yield g[place[0]], g[place[1]], "incomplete", "", g["n"]
