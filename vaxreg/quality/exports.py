"""The findings export: one row per (open finding, source record), so that each facility can fix the
records in its own source system.

A finding about a person concerns every dose record the facilities sent for that person; a finding
about one dose concerns that record only. Messages are written as every reader sees them, ID and phone
numbers masked: the file goes to facilities to fix records, not to read identities.
"""

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection

from vaxreg.core.text import spreadsheet_safe
from vaxreg.quality.messages import finding_message

EXPORT_HEADERS = (
    "Mã cơ sở tiêm / facility_code",
    "Mã bản ghi / source_record_id",
    "Mã lỗi / rule_code",
    "Mức độ / severity",
    "Nội dung / message_vi",
    "Message (English)",
)
FETCH_ROWS = 5_000

_SELECT = (
    "SELECT fa.code, d.source_record_id, f.code, f.severity, f.template_vi, f.template_en, f.detail "
    "FROM quality_finding f JOIN vaccinations_dose d ON {join} JOIN places_facility fa ON fa.id = d.facility_id "
    "WHERE f.is_open = %s AND f.dose_id IS {dose_null} {facility_filter}"
)


def findings_export_rows(*, facility_code: str | None = None) -> Iterator[tuple[Any, ...]]:
    """Open findings per source record, ordered by facility and record, streamed from the database."""
    facility_filter = "AND fa.code = %s" if facility_code else ""
    person_part = _SELECT.format(
        join="d.person_id = f.person_id", dose_null="NULL", facility_filter=facility_filter
    )
    dose_part = _SELECT.format(join="d.id = f.dose_id", dose_null="NOT NULL", facility_filter=facility_filter)
    params: list[Any] = [True, facility_code] if facility_code else [True]
    with connection.cursor() as cursor:
        cursor.execute(f"{person_part} UNION ALL {dose_part} ORDER BY 1, 2, 3", params + params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            for facility, record, code, severity, template_vi, template_en, detail in rows:
                values = json.loads(detail) if isinstance(detail, str | bytes) else detail
                yield (
                    facility,
                    record,
                    code,
                    severity,
                    finding_message(template_vi, values),
                    finding_message(template_en, values),
                )


def findings_export_write(*, out: Path, facility_code: str | None = None) -> int:
    """Write the export as .csv (UTF-8 with BOM, for Excel) or .xlsx; returns the number of rows."""
    rows = findings_export_rows(facility_code=facility_code)
    written = 0
    if out.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Findings")
        sheet.append(list(EXPORT_HEADERS))
        for row in rows:
            sheet.append([spreadsheet_safe(str(v)) for v in row])
            written += 1
        workbook.save(out)
        return written
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_HEADERS)
        for row in rows:
            writer.writerow([spreadsheet_safe(str(v)) for v in row])
            written += 1
    return written
