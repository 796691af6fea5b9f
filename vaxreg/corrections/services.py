"""The one way to change a person or a dose after import: history with reason and source, then the rules.

Every correction names the version of the record the user saw. Two workers correcting the same person
at once cannot overwrite each other: the second one's version no longer matches, nothing of it is
written, and ``StaleRecord`` tells them so with the values now stored.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from vaxreg.core import clock
from vaxreg.core.cccd import parse_id_number
from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.models import SourceType
from vaxreg.core.text import fold, normalize_text
from vaxreg.corrections.hooks import after_correction_run
from vaxreg.people.models import Gender, Person
from vaxreg.places.models import Commune, Facility
from vaxreg.quality.services import CheckResult, quality_check_persons
from vaxreg.vaccinations.models import Dose, DoseStatus, Vaccine

PERSON_ENTITY = "person"
DOSE_ENTITY = "dose"

# What a correction may change; everything else (ids, provenance, fingerprints) is the system's.
PERSON_FIELDS = (
    "full_name", "birth_year", "birth_month", "birth_day", "gender", "id_type", "id_number", "phone", "address",
    "commune_id",
)  # fmt: skip
DOSE_FIELDS = ("vaccine_id", "lot_number", "vaccination_date", "dose_number", "status")


class CorrectionRefused(Exception):
    """A correction that cannot be made as asked: bad value, missing reason, unknown record."""

    def __init__(self, message_vi: str, message_en: str, *, field: str = "") -> None:
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field


class StaleRecord(CorrectionRefused):
    """Someone else changed the record since the user read it; ``current`` holds what is stored now."""

    def __init__(self, *, entity: str, entity_id: int, current: dict[str, Any]) -> None:
        super().__init__(
            "Bản ghi vừa được người khác sửa; hãy xem giá trị mới rồi sửa lại nếu vẫn cần.",
            "Someone else has just changed this record; look at the new values and correct again if still needed.",
        )
        self.entity = entity
        self.entity_id = entity_id
        self.current = current


@dataclass(frozen=True)
class CorrectionResult:
    changed: dict[str, tuple[Any, Any]]
    version: int
    check: CheckResult


def _require_reason(reason: str) -> str:
    text = normalize_text(reason)
    if len(text) < 3:
        raise CorrectionRefused("Cần ghi lý do sửa.", "A correction needs a reason.", field="reason")
    return text[:1000]


def _clean_person_value(field: str, value: Any) -> Any:
    if field == "full_name":
        text = normalize_text(str(value or ""))
        if len(text) > 200:
            raise CorrectionRefused(
                "Họ tên dài quá 200 ký tự.", "The name is longer than 200 characters.", field=field
            )
        return text
    if field in ("birth_year", "birth_month", "birth_day"):
        return None if value in (None, "") else int(value)
    if field == "gender":
        text = str(value or "")
        if text not in Gender.values and text != "":
            raise CorrectionRefused(
                f"Giới tính “{text}” không hợp lệ.", f"Gender “{text}” is not valid.", field=field
            )
        return text
    if field == "commune_id":
        if value in (None, ""):
            return None
        if not Commune.objects.filter(pk=value).exists():
            raise CorrectionRefused(
                f"Mã xã “{value}” không tồn tại.", f"Commune code “{value}” does not exist.", field=field
            )
        return str(value)
    text = normalize_text(str(value or ""))
    return text[:300]


def _check_birth_date(values: Mapping[str, Any]) -> None:
    year, month, day = values["birth_year"], values["birth_month"], values["birth_day"]
    if year is None and (month is not None or day is not None):
        raise CorrectionRefused(
            "Có ngày/tháng sinh thì phải có năm sinh.",
            "A birth day or month needs a year.",
            field="birth_year",
        )
    if day is not None and month is None:
        raise CorrectionRefused(
            "Có ngày sinh thì phải có tháng sinh.", "A birth day needs a month.", field="birth_month"
        )
    try:
        if year is not None:
            dt.date(year, month or 1, day or 1)
    except ValueError as exc:
        raise CorrectionRefused(
            f"Ngày sinh {day or '?'}/{month or '?'}/{year} không tồn tại.",
            f"The birth date {day or '?'}/{month or '?'}/{year} does not exist.",
            field="birth_day",
        ) from exc
    if year is not None and year > clock.today().year:
        raise CorrectionRefused(
            "Năm sinh ở tương lai.", "The birth year is in the future.", field="birth_year"
        )


def _person_current(person: Person) -> dict[str, Any]:
    return {f: getattr(person, f) for f in PERSON_FIELDS} | {"version": person.version}


@transaction.atomic
def person_correct(
    *,
    person_id: int,
    expected_version: int,
    changes: Mapping[str, Any],
    reason: str,
    actor_id: int | None,
    source_type: SourceType = SourceType.CORRECTION,
    source_id: str = "",
) -> CorrectionResult:
    """Change fields of a person, write one history row per changed field and re-run the rules for them.

    ``expected_version`` is the version the user saw; when the stored one differs nothing is written and
    ``StaleRecord`` is raised with the stored values.
    """
    reason = _require_reason(reason)
    unknown = set(changes) - set(PERSON_FIELDS)
    if unknown:
        raise CorrectionRefused(
            f"Không sửa được trường: {', '.join(sorted(unknown))}.",
            f"These fields cannot be corrected: {', '.join(sorted(unknown))}.",
        )
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise CorrectionRefused("Không tìm thấy người này.", "This person does not exist.")
    if person.version != expected_version:
        raise StaleRecord(entity=PERSON_ENTITY, entity_id=person.pk, current=_person_current(person))
    new_values = _person_current(person)
    for field, value in changes.items():
        new_values[field] = _clean_person_value(field, value)
    _check_birth_date(new_values)
    if "id_number" in changes or "id_type" in changes:
        number = str(new_values["id_number"] or "")
        parsed = parse_id_number(number) if number else None
        if not number:
            new_values["id_type"] = ""
        elif parsed is not None:
            new_values["id_number"] = parsed.number
            if "id_type" not in changes:
                new_values["id_type"] = parsed.kind.value
    changed = {
        f: (getattr(person, f), new_values[f]) for f in PERSON_FIELDS if getattr(person, f) != new_values[f]
    }
    if not changed:
        return CorrectionResult(changed={}, version=person.version, check=CheckResult())
    now = clock.now()
    for field, (_, new) in changed.items():
        setattr(person, field, new)
    update_fields = [*changed, "updated_at", "version"]
    if "full_name" in changed:
        person.name_key = fold(person.full_name)
        update_fields.append("name_key")
    if "commune_id" in changed and person.commune_id:
        person.province_id = Commune.objects.values_list("province_id", flat=True).get(pk=person.commune_id)
        update_fields.append("province_id")
    if "birth_year" in changed or "birth_month" in changed or "birth_day" in changed:
        person.birth_date_raw = ""
        update_fields.append("birth_date_raw")
    person.updated_at = now
    person.version += 1
    # The version test in the WHERE clause is what makes a concurrent second writer fail, whatever the
    # isolation level or database.
    written = Person.objects.filter(pk=person.pk, version=expected_version).update(
        **{f: getattr(person, f) for f in update_fields}
    )
    if written != 1:
        raise StaleRecord(
            entity=PERSON_ENTITY,
            entity_id=person.pk,
            current=_person_current(Person.objects.get(pk=person.pk)),
        )
    record_change(
        entity=PERSON_ENTITY,
        entity_id=person.pk,
        changes=changed,
        source=ChangeSource(type=source_type, id=source_id, reason=reason, actor_id=actor_id),
    )
    check = quality_check_persons(person_ids=[person.pk])
    after_correction_run(person_id=person.pk, actor_id=actor_id)
    return CorrectionResult(changed=changed, version=person.version, check=check)


@transaction.atomic
def person_create(
    *,
    values: Mapping[str, Any],
    province_id: str | None = None,
    reason: str,
    actor_id: int | None,
    source_type: SourceType = SourceType.CORRECTION,
    source_id: str = "",
) -> Person:
    """Record a person no file carried (a complaint of category 1 or 2: vaccinated, but not on record).

    The values are checked as a correction's are; the creation is one ``created`` history row with its
    source, and the rules run for the new person at once. ``province_id`` places a person whose commune is
    not known (the province of the complaint).
    """
    reason = _require_reason(reason)
    unknown = set(values) - set(PERSON_FIELDS)
    if unknown:
        raise CorrectionRefused(
            f"Không ghi được trường: {', '.join(sorted(unknown))}.",
            f"These fields cannot be set: {', '.join(sorted(unknown))}.",
        )
    clean = {field: _clean_person_value(field, values.get(field)) for field in PERSON_FIELDS}
    if not clean["full_name"]:
        raise CorrectionRefused("Cần họ tên.", "The full name is needed.", field="full_name")
    _check_birth_date(clean)
    number = str(clean["id_number"] or "")
    parsed = parse_id_number(number) if number else None
    if parsed is not None:
        clean["id_number"], clean["id_type"] = parsed.number, clean["id_type"] or parsed.kind.value
    elif not number:
        clean["id_type"] = ""
    if clean["commune_id"]:
        province_id = Commune.objects.values_list("province_id", flat=True).get(pk=clean["commune_id"])
    now = clock.now()
    person = Person.objects.create(
        **clean, name_key=fold(clean["full_name"]), province_id=province_id, created_at=now, updated_at=now
    )
    record_change(
        entity=PERSON_ENTITY,
        entity_id=person.pk,
        changes={"created": (None, f"{person.full_name} {person.birth_year or ''}".strip())},
        source=ChangeSource(type=source_type, id=source_id, reason=reason, actor_id=actor_id),
    )
    quality_check_persons(person_ids=[person.pk])
    return person


def _clean_dose_value(field: str, value: Any) -> Any:
    if field == "vaccine_id":
        if value in (None, ""):
            return None
        if not Vaccine.objects.filter(pk=value).exists():
            raise CorrectionRefused(
                f"Vắc xin “{value}” không có trong danh mục.",
                f"Vaccine “{value}” is not in the catalogue.",
                field=field,
            )
        return str(value)
    if field == "vaccination_date":
        try:
            date = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise CorrectionRefused(
                f"Ngày tiêm “{value}” không đọc được.",
                f"The vaccination date “{value}” cannot be read.",
                field=field,
            ) from exc
        if date > clock.today():
            raise CorrectionRefused(
                "Ngày tiêm ở tương lai.", "The vaccination date is in the future.", field=field
            )
        return date
    if field == "dose_number":
        if value in (None, ""):
            return None
        number = int(value)
        if not 1 <= number <= 4:
            raise CorrectionRefused("Mũi số phải từ 1 đến 4.", "The dose number must be 1 to 4.", field=field)
        return number
    if field == "status":
        if value not in DoseStatus.values:
            raise CorrectionRefused(
                f"Trạng thái “{value}” không hợp lệ.", f"Status “{value}” is not valid.", field=field
            )
        return value
    return normalize_text(str(value or ""))[:64]


@transaction.atomic
def dose_correct(
    *,
    dose_id: int,
    expected_version: int,
    changes: Mapping[str, Any],
    reason: str,
    actor_id: int | None,
    source_type: SourceType = SourceType.CORRECTION,
    source_id: str = "",
) -> CorrectionResult:
    """Change fields of a dose (signed-off ones too: always with a reason), with history and re-check."""
    reason = _require_reason(reason)
    unknown = set(changes) - set(DOSE_FIELDS)
    if unknown:
        raise CorrectionRefused(
            f"Không sửa được trường: {', '.join(sorted(unknown))}.",
            f"These fields cannot be corrected: {', '.join(sorted(unknown))}.",
        )
    dose = Dose.objects.select_for_update().filter(pk=dose_id).first()
    if dose is None:
        raise CorrectionRefused("Không tìm thấy mũi tiêm này.", "This dose does not exist.")
    current = {f: getattr(dose, f) for f in DOSE_FIELDS} | {"version": dose.version}
    if dose.version != expected_version:
        raise StaleRecord(entity=DOSE_ENTITY, entity_id=dose.pk, current=current)
    changed = {}
    for field, value in changes.items():
        new = _clean_dose_value(field, value)
        if new != getattr(dose, field):
            changed[field] = (getattr(dose, field), new)
    if not changed:
        return CorrectionResult(changed={}, version=dose.version, check=CheckResult())
    written = Dose.objects.filter(pk=dose.pk, version=expected_version).update(
        **{f: new for f, (_, new) in changed.items()}, updated_at=clock.now(), version=expected_version + 1
    )
    if written != 1:
        raise StaleRecord(entity=DOSE_ENTITY, entity_id=dose.pk, current=current)
    record_change(
        entity=DOSE_ENTITY,
        entity_id=dose.pk,
        changes=changed,
        source=ChangeSource(type=source_type, id=source_id, reason=reason, actor_id=actor_id),
    )
    check = quality_check_persons(person_ids=[dose.person_id])
    after_correction_run(person_id=dose.person_id, actor_id=actor_id)
    return CorrectionResult(changed=changed, version=expected_version + 1, check=check)


@transaction.atomic
def dose_add(
    *,
    person_id: int,
    facility_id: int,
    vaccine_id: str | None,
    vaccination_date: dt.date,
    dose_number: int | None,
    lot_number: str = "",
    reason: str,
    actor_id: int | None,
    source_type: SourceType = SourceType.CORRECTION,
    source_id: str = "",
) -> Dose:
    """Record a dose that no file carried (a complaint with paper proof, a station's own finding)."""
    reason = _require_reason(reason)
    if not Person.objects.filter(pk=person_id).exists():
        raise CorrectionRefused("Không tìm thấy người này.", "This person does not exist.")
    if not Facility.objects.filter(pk=facility_id).exists():
        raise CorrectionRefused(
            "Không tìm thấy cơ sở tiêm.", "The facility does not exist.", field="facility_id"
        )
    values = {
        "vaccine_id": _clean_dose_value("vaccine_id", vaccine_id),
        "vaccination_date": _clean_dose_value("vaccination_date", vaccination_date),
        "dose_number": _clean_dose_value("dose_number", dose_number),
        "lot_number": _clean_dose_value("lot_number", lot_number),
    }
    now = clock.now()
    dose = Dose.objects.create(
        person_id=person_id,
        facility_id=facility_id,
        vaccine_raw=values["vaccine_id"] or "",
        source_record_id=f"{source_type}-{source_id or 'manual'}-{now:%Y%m%d%H%M%S%f}",
        created_at=now,
        updated_at=now,
        **values,
    )
    record_change(
        entity=DOSE_ENTITY,
        entity_id=dose.pk,
        changes={"created": (None, f"{values['vaccination_date']} {values['vaccine_id'] or ''}".strip())},
        source=ChangeSource(type=source_type, id=source_id, reason=reason, actor_id=actor_id),
    )
    quality_check_persons(person_ids=[person_id])
    after_correction_run(person_id=person_id, actor_id=actor_id)
    return dose
