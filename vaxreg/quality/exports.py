"""The findings export: one row per (open finding, source record), so that each facility can fix the
records in its own source system.

A finding about a person concerns every dose record the facilities sent for that person; a finding
about one dose concerns that record only. The export holds what the acting user may read: a facility its
own source records, a health station the persons of its commune, a province its persons, national staff
everything. Messages are written as every reader sees them, ID and phone numbers masked: the file goes to
facilities to fix records, not to read identities. Every export is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.db.models import F, Q, QuerySet

from vaxreg.core.history import audit_event_record
from vaxreg.core.jurisdiction import Scope, jurisdiction_of
from vaxreg.core.models import AuditEvent
from vaxreg.core.tables import Column, TableSpec, write_table
from vaxreg.people.models import Person
from vaxreg.quality.messages import finding_message
from vaxreg.quality.models import Finding, Severity

if TYPE_CHECKING:
    from vaxreg.accounts.models import User

FINDINGS_SPEC = TableSpec(
    "findings",
    (
        Column("facility_code", "Mã cơ sở tiêm", "facility_code"),
        Column("source_record_id", "Mã bản ghi", "source_record_id"),
        Column("rule_code", "Mã lỗi", "rule_code"),
        Column("severity", "Mức độ", "severity"),
        Column("message_vi", "Nội dung", "message_vi"),
        Column("message_en", "Message (English)", "Message (English)"),
    ),
)
# "Message (English)" has no Vietnamese half: the header row stays as facilities know it.
EXPORT_HEADERS = (*FINDINGS_SPEC.headers()[:5], "Message (English)")
EXPORT_FORMATS = ("csv", "xlsx")
EXPORT_CHUNK = 2_000
_COLUMNS = ("facility_code", "record_id", "code", "severity", "template_vi", "template_en", "detail")


def _findings_of_records(user: User, facility_code: str | None) -> QuerySet[Any] | None:
    """Open findings × the source records they concern, restricted to what the user may read.

    A finding about the person concerns each dose record of that person; a finding about a dose, that record.
    The filters on the multi-valued ``person__doses`` go in one ``filter`` call before the annotations that
    read it, so all use the same join and a person-level finding yields one row per dose record.
    """
    jurisdiction = jurisdiction_of(user)
    if jurisdiction.scope is Scope.NOTHING:
        return None
    person_level = Finding.objects.filter(is_open=True, dose__isnull=True)
    dose_level = Finding.objects.filter(is_open=True, dose__isnull=False)
    records: dict[str, Any] = {"person__doses__isnull": False}
    dose_records: dict[str, Any] = {}
    if jurisdiction.scope is Scope.FACILITY:
        # A facility fixes its own source records: not the other facilities' doses of its persons.
        records = {"person__doses__facility_id": jurisdiction.facility_id}
        dose_records = {"dose__facility_id": jurisdiction.facility_id}
    elif not jurisdiction.reads_everything:
        # The visible persons as a sub-query of their own rather than a filter over the join: on Citus the
        # findings are not stored with their persons yet, and only a sub-query that reads persons alone (its
        # result handed to the rest) can be run there.
        visible = jurisdiction.persons_visible(Person.objects.all()).values("pk")
        person_level = person_level.filter(person_id__in=visible)
        dose_level = dose_level.filter(person_id__in=visible)
    if facility_code:
        records["person__doses__facility__code"] = facility_code
        dose_records["dose__facility__code"] = facility_code
    person_level = person_level.filter(**records).annotate(
        facility_code=F("person__doses__facility__code"), record_id=F("person__doses__source_record_id")
    )
    dose_level = dose_level.filter(Q(**dose_records)).annotate(
        facility_code=F("dose__facility__code"), record_id=F("dose__source_record_id")
    )
    return (
        person_level.values_list(*_COLUMNS)
        .union(dose_level.values_list(*_COLUMNS), all=True)
        .order_by("facility_code", "record_id", "code")
    )


def findings_export_rows(*, user: User, facility_code: str | None = None) -> Iterator[tuple[str, ...]]:
    """The rows of the export the user may take, ordered by facility, record and rule, ID numbers masked."""
    rows = _findings_of_records(user, facility_code)
    if rows is None:
        return
    row: tuple[Any, ...]
    for row in rows.iterator(chunk_size=EXPORT_CHUNK):
        facility, record_id, code, severity, template_vi, template_en, detail = row
        yield (
            facility,
            record_id,
            code,
            Severity(severity).label,  # "Chặn", "Cảnh báo": the file's words, not the stored keyword
            finding_message(template_vi, detail),
            finding_message(template_en, detail),
        )


def findings_export_write(
    *, user: User, fmt: str, out: Path | IO[bytes], facility_code: str | None = None, channel: str = "web"
) -> int:
    """Write the user's findings export as .csv (UTF-8 with BOM, for Excel) or .xlsx and record the export in
    the audit log; returns the number of rows."""
    written = write_table(
        EXPORT_HEADERS,
        findings_export_rows(user=user, facility_code=facility_code),
        fmt=fmt,
        out=out,
        sheet="Findings",
    )
    detail: dict[str, Any] = {"format": fmt, "rows": written, "role": user.role}
    if facility_code:
        detail["facility"] = facility_code
    if channel != "web":
        detail["channel"] = channel
    audit_event_record(
        action=AuditEvent.Action.EXPORT,
        actor_id=user.pk,
        object_type="findings",
        object_id=str(user.facility_id or user.commune_id or user.province_id or ""),
        detail=detail,
    )
    return written
