"""The one way to change a person or a dose after import: history with reason and source, then the rules.

Every correction names the version of the record the user saw. Two workers correcting the same person
at once cannot overwrite each other: the second one's version no longer matches, nothing of it is
written, and ``StaleRecord`` tells them so with the values now stored.
"""

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext, gettext_noop

from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core import clock
from vaxreg.core.cccd import parse_id_number
from vaxreg.core.history import ChangeSource, audit_event_record, record_change
from vaxreg.core.i18n import both_languages, in_each_language, label_halves
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.messaging import MessageNotSent, message_send
from vaxreg.core.models import AuditEvent, SourceType
from vaxreg.core.phones import normalize_phone
from vaxreg.core.refusals import Refusal, StaleVersion
from vaxreg.core.text import fold, normalize_text
from vaxreg.core.touched import figures_touched
from vaxreg.core.versioning import version_expect, versioned_update
from vaxreg.corrections.hooks import after_correction_run
from vaxreg.corrections.models import AccessChange, AccessChangeConfirmer, AccessChangeState
from vaxreg.corrections.selectors import ACCESS_FIELD_NAMES
from vaxreg.people.models import Gender, Person
from vaxreg.people.services import doses_lock, persons_lock, rows_follow_person
from vaxreg.places.models import Commune, Facility
from vaxreg.quality.services import CheckResult, quality_check_persons
from vaxreg.vaccinations.fields import MAX_DOSE_NUMBER, dose_number_in_range
from vaxreg.vaccinations.models import Dose, DoseStatus, Vaccine

logger = logging.getLogger(__name__)

PERSON_ENTITY = "person"
DOSE_ENTITY = "dose"

# What a correction may change; everything else (ids, provenance, fingerprints) is the system's.
PERSON_FIELDS = (
    "full_name", "birth_year", "birth_month", "birth_day", "gender", "id_type", "id_number", "phone", "address",
    "commune_id",
)  # fmt: skip
DOSE_FIELDS = ("vaccine_id", "lot_number", "vaccination_date", "dose_number", "status")


class CorrectionRefused(Refusal):
    """A correction that cannot be made as asked: bad value, missing reason, unknown record."""


class StaleRecord(StaleVersion, CorrectionRefused):
    """Someone else changed the record since the user read it; ``current`` holds what is stored now."""

    def __init__(self, *, entity: str, entity_id: int, current: dict[str, Any]) -> None:
        super().__init__(
            "Bản ghi vừa được người khác sửa; hãy xem giá trị mới rồi sửa lại nếu vẫn cần.",
            "Someone else has just changed this record; look at the new values and correct again if still needed.",
            current=current,
        )
        self.entity = entity
        self.entity_id = entity_id


def _person_stale(person: Person) -> StaleRecord:
    return StaleRecord(entity=PERSON_ENTITY, entity_id=person.pk, current=_person_current(person))


def _dose_stale(dose: Dose) -> StaleRecord:
    return StaleRecord(entity=DOSE_ENTITY, entity_id=dose.pk, current=_dose_current(dose))


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


def _id_normalize(new_values: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """A changed ID number in its stored form, with its kind unless the change names one."""
    if "id_number" not in changes and "id_type" not in changes:
        return
    number = str(new_values["id_number"] or "")
    parsed = parse_id_number(number) if number else None
    if not number:
        new_values["id_type"] = ""
    elif parsed is not None:
        new_values["id_number"] = parsed.number
        if "id_type" not in changes:
            new_values["id_type"] = parsed.kind.value


def _fields_allowed(fields: Any, allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise CorrectionRefused(
            f"Không sửa được trường: {', '.join(sorted(unknown))}.",
            f"These fields cannot be corrected: {', '.join(sorted(unknown))}.",
        )


def _person_locked(*, person_id: int, fields: Any, allowed: tuple[str, ...], version: int | None) -> Person:
    """The person locked for a change of ``fields``; refused for a field outside ``allowed`` or when the
    stored version is not ``version`` (None: not checked)."""
    _fields_allowed(fields, allowed)
    person = persons_lock(person_ids=[person_id]).get(person_id)
    if person is None:
        raise CorrectionRefused("Không tìm thấy người này.", "This person does not exist.")
    version_expect(person, version, _person_stale)
    return person


def _person_values_after(person: Person, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Every correctable field of the person as the change would leave it, each value checked."""
    new_values = _person_current(person)
    for field, value in changes.items():
        new_values[field] = _clean_person_value(field, value)
    _check_birth_date(new_values)
    _id_normalize(new_values, changes)
    return new_values


def _person_current(person: Person) -> dict[str, Any]:
    return {f: getattr(person, f) for f in PERSON_FIELDS} | {"version": person.version}


def _dose_current(dose: Dose) -> dict[str, Any]:
    return {f: getattr(dose, f) for f in DOSE_FIELDS} | {"version": dose.version}


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
    person = _person_locked(
        person_id=person_id, fields=changes, allowed=PERSON_FIELDS, version=expected_version
    )
    new_values = _person_values_after(person, changes)
    changed = {
        f: (getattr(person, f), new_values[f]) for f in PERSON_FIELDS if getattr(person, f) != new_values[f]
    }
    if not changed:
        return CorrectionResult(changed={}, version=person.version, check=CheckResult())
    now = clock.now()
    left_commune, left_province = person.commune_id, person.province_id
    for field, (_, new) in changed.items():
        setattr(person, field, new)
    update_fields = [*changed, "updated_at"]
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
    versioned_update(
        person,
        fields=person.fields_with_home(update_fields),
        stale=_person_stale,
        expected_version=expected_version,
    )
    if person.province_id != left_province:
        rows_follow_person(person_ids=[person.pk])
    source = ChangeSource(type=source_type, id=source_id, reason=reason, actor_id=actor_id)
    # The unit a move left, and the person's own (its persons and verified figures, whatever its findings do).
    figures_touched(persons=[person.pk], communes=[left_commune], provinces=[left_province])
    return _corrected(PERSON_ENTITY, person, person_id=person.pk, changed=changed, source=source)


def _corrected(
    entity: str, record: Person | Dose, *, person_id: int, changed: dict[str, Any], source: ChangeSource
) -> CorrectionResult:
    """After a correction is written: its history, then the rules for the person, in the same transaction."""
    record_change(entity=entity, entity_id=record.pk, changes=changed, source=source)
    if isinstance(record, Dose):  # the facility's dose figures (the person's own follow from the re-check)
        figures_touched(facilities=[record.facility_id])
    check = quality_check_persons(person_ids=[person_id])
    after_correction_run(person_id=person_id, actor_id=source.actor_id)
    return CorrectionResult(changed=changed, version=record.version, check=check)


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
    figures_touched(persons=[person.pk])  # one more person in its commune
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
        if not dose_number_in_range(number):
            raise CorrectionRefused(
                f"Mũi số phải từ 1 đến {MAX_DOSE_NUMBER}.",
                f"The dose number must be 1 to {MAX_DOSE_NUMBER}.",
                field=field,
            )
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
    _fields_allowed(changes, DOSE_FIELDS)
    dose = doses_lock(dose_ids=[dose_id]).get(dose_id)
    if dose is None:
        raise CorrectionRefused("Không tìm thấy mũi tiêm này.", "This dose does not exist.")
    version_expect(dose, expected_version, _dose_stale)
    changed = {}
    for field, value in changes.items():
        new = _clean_dose_value(field, value)
        if new != getattr(dose, field):
            changed[field] = (getattr(dose, field), new)
    if not changed:
        return CorrectionResult(changed={}, version=dose.version, check=CheckResult())
    for field, (_, new) in changed.items():
        setattr(dose, field, new)
    dose.updated_at = clock.now()
    versioned_update(
        dose, fields=[*changed, "updated_at"], stale=_dose_stale, expected_version=expected_version
    )
    source = ChangeSource(type=source_type, id=source_id, reason=reason, actor_id=actor_id)
    return _corrected(DOSE_ENTITY, dose, person_id=dose.person_id, changed=changed, source=source)


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
    figures_touched(facilities=[facility_id])
    quality_check_persons(person_ids=[person_id])
    after_correction_run(person_id=person_id, actor_id=actor_id)
    return dose


# -- the fields that open the citizen's own access -----------------------------------------------------------
# The phone on record receives the citizen's one-time code, the ID number is what the lookup asks for, and
# the commune of residence decides which units read the record. Changed on someone else's word (a complaint),
# they would hand the record to whoever asked: such a change waits for a second step (``AccessChange``).

ACCESS_FIELDS = ("phone", "id_type", "id_number", "commune_id")
ACCESS_CHANGE_ENTITY = "access_change"
ACCESS_CHANGE_LIFETIME = dt.timedelta(days=30)


class AccessChangeRefused(CorrectionRefused):
    """The second step cannot be taken: not pending any more, or not by this user."""


def access_fields_split(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the fields a correction changes at once, the fields that open access and need a second step)."""
    ordinary = {f: v for f, v in changes.items() if f not in ACCESS_FIELDS}
    access = {f: v for f, v in changes.items() if f in ACCESS_FIELDS}
    return ordinary, access


def access_field_names(fields: Any) -> str:
    """The changed fields as people read them, in the active language: "phone number, commune of residence"."""
    names = [ACCESS_FIELD_NAMES[f] for f in ACCESS_FIELDS if f in fields and f != "id_type"] or [
        ACCESS_FIELD_NAMES["id_type"]
    ]
    return ", ".join(str(name) for name in names)


def access_change_words(fields: Any, message: str, values: Mapping[str, Any]) -> str:
    """One sentence about an access change in both languages, "tiếng Việt / English", with the changed
    ``fields`` named in each (``%(fields)s``): the citizen's SMS and a complaint's stored outcome are read by
    people of either language."""
    halves = in_each_language(lambda: gettext(message) % {"fields": access_field_names(fields), **values})
    return " / ".join(halves)


def _access_notice_queue(change: AccessChange, event: str) -> None:
    # A task row written in this transaction: the message leaves only if the change is committed.
    from vaxreg.corrections.tasks import access_change_notice_send_task

    access_change_notice_send_task.enqueue(change.pk, event)


def _access_history(change: AccessChange, old: str | None, *, actor_id: int | None, reason: str) -> None:
    record_change(
        entity=ACCESS_CHANGE_ENTITY,
        entity_id=change.pk,
        changes={"state": (old, change.state)},
        source=ChangeSource(
            type=SourceType(change.source_type), id=change.source_id, reason=reason, actor_id=actor_id
        ),
    )


@transaction.atomic
def access_change_request(
    *,
    person_id: int,
    changes: Mapping[str, Any],
    reason: str,
    actor_id: int | None,
    source_type: SourceType,
    source_id: str = "",
    expected_version: int | None = None,
) -> AccessChange | None:
    """Ask for a change of the fields that open the citizen's own access; nothing of it is applied yet.

    The values are checked now, as a correction's are. The phone on record is told at once (the message
    names what is asked and how to confirm it: the lookup page, or the commune health station). None when
    the values are already those stored.
    """
    reason = _require_reason(reason)
    person = _person_locked(
        person_id=person_id, fields=changes, allowed=ACCESS_FIELDS, version=expected_version
    )
    current, new_values = _person_current(person), _person_values_after(person, changes)
    if new_values["phone"] != current["phone"] and new_values["phone"]:
        national, valid = normalize_phone(new_values["phone"])
        if not valid:
            raise CorrectionRefused(
                "Số điện thoại mới không hợp lệ: 10 chữ số bắt đầu bằng 0.",
                "The new phone number is not valid: 10 digits starting with 0.",
                field="phone",
            )
        new_values["phone"] = national
    wanted = {f: new_values[f] for f in ACCESS_FIELDS if new_values[f] != current[f]}
    if not wanted:
        return None
    now = clock.now()
    change = AccessChange.objects.create(
        person=person,
        changes=wanted,
        old_values={f: current[f] for f in wanted},
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        requested_by_id=actor_id,
        requested_at=now,
        expires_at=now + ACCESS_CHANGE_LIFETIME,
    )
    _access_history(change, None, actor_id=actor_id, reason=reason)
    audit_event_record(
        action=AuditEvent.Action.IDENTITY_CHANGE_REQUESTED,
        actor_id=actor_id,
        object_type=PERSON_ENTITY,
        object_id=str(person.pk),
        detail={"access_change": change.pk, "fields": sorted(wanted), "source": f"{source_type}:{source_id}"},
    )
    _access_notice_queue(change, "requested")
    return change


def _pending_for_update(change_id: int) -> AccessChange:
    change = AccessChange.objects.select_for_update().filter(pk=change_id).first()
    if change is None:
        raise AccessChangeRefused("Không có yêu cầu này.", "There is no such request.")
    if change.state == AccessChangeState.PENDING and clock.now() >= change.expires_at:
        raise AccessChangeRefused(
            "Yêu cầu đã hết hạn; cần gửi yêu cầu mới.", "The request has expired; a new one is needed."
        )
    if change.state != AccessChangeState.PENDING:
        raise AccessChangeRefused(
            "Yêu cầu này đã được xử lý.", "This request has already been decided.", field="state"
        )
    return change


def access_change_station_may_decide(*, user: Any, person_id: int) -> bool:
    """The commune health station that has the person in its jurisdiction (residence, or doses given in its
    commune) verifies a change on the person's papers."""
    if not user_can(user, Capability.ACCESS_CHANGE_CONFIRM):
        return False
    return jurisdiction_of(user).persons_visible(Person.objects.filter(pk=person_id)).exists()


def _decider_check(
    change: AccessChange, *, how: AccessChangeConfirmer, actor: Any, citizen_person_id: int | None
) -> None:
    if how == AccessChangeConfirmer.CITIZEN:
        allowed = citizen_person_id is not None and citizen_person_id == change.person_id
    else:
        allowed = access_change_station_may_decide(user=actor, person_id=change.person_id)
    if not allowed:
        raise AccessChangeRefused(
            "Chỉ người dân (sau mã gửi đến số điện thoại trên hồ sơ) hoặc trạm y tế xã quản lý người này "
            "mới xác nhận được.",
            "Only the citizen (after a code sent to the phone on record) or the commune health station "
            "responsible for this person can confirm it.",
        )


@transaction.atomic
def access_change_confirm(
    *,
    change_id: int,
    how: AccessChangeConfirmer,
    actor: Any = None,
    citizen_person_id: int | None = None,
    note: str = "",
) -> AccessChange:
    """The second step: apply the asked change through the correction service, and tell the old phone.

    ``how`` CITIZEN: ``citizen_person_id`` is the person the citizen proved to be with a one-time code sent
    to the phone on record. STATION: ``actor`` is a commune health station user with the person in its
    jurisdiction, who checked the person's papers. Refused when a field moved on since it was asked.
    """
    change = _pending_for_update(change_id)
    _decider_check(change, how=how, actor=actor, citizen_person_id=citizen_person_id)
    note = normalize_text(note)[:1000]
    if how == AccessChangeConfirmer.STATION and len(note) < 3:
        raise AccessChangeRefused(
            "Hãy ghi đã kiểm tra giấy tờ gì (ví dụ: CCCD gốc).",
            "Say which papers you checked (for example: the original CCCD card).",
            field="note",
        )
    person = persons_lock(person_ids=[change.person_id])[change.person_id]
    moved = sorted(f for f, old in change.old_values.items() if getattr(person, f) != old)
    if moved:
        raise AccessChangeRefused(
            "Hồ sơ đã thay đổi từ khi có yêu cầu; cần gửi yêu cầu mới.",
            "The record has changed since the request; a new request is needed.",
            field=moved[0],
        )
    actor_id = actor.pk if actor is not None else None
    how_vi, how_en = label_halves(AccessChangeConfirmer(how).label)
    person_correct(
        person_id=person.pk,
        expected_version=person.version,
        changes=change.changes,
        reason=f"{change.reason} — {how_vi} / {how_en}" + (f": {note}" if note else ""),
        actor_id=actor_id,
        source_type=SourceType(change.source_type),
        source_id=change.source_id,
    )
    change.state, change.confirmed_how = AccessChangeState.CONFIRMED, how
    change.decided_by_id, change.decided_at, change.decision_note = actor_id, clock.now(), note
    change.save(update_fields=["state", "confirmed_how", "decided_by", "decided_at", "decision_note"])
    _access_history(change, AccessChangeState.PENDING, actor_id=actor_id, reason=f"{how_vi} / {how_en}")
    audit_event_record(
        action=AuditEvent.Action.IDENTITY_CHANGE_CONFIRMED,
        actor_id=actor_id,
        object_type=PERSON_ENTITY,
        object_id=str(person.pk),
        detail={"access_change": change.pk, "fields": sorted(change.changes), "how": how},
    )
    _access_notice_queue(change, "confirmed")
    return change


@transaction.atomic
def access_change_cancel(
    *, change_id: int, actor: Any = None, citizen_person_id: int | None = None, note: str = ""
) -> AccessChange:
    """Drop a change that waits: by the citizen it concerns ("not me"), the station that would verify it,
    or the user who asked for it."""
    change = _pending_for_update(change_id)
    by_requester = (
        actor is not None and change.requested_by_id is not None and actor.pk == change.requested_by_id
    )
    by_citizen = citizen_person_id is not None and citizen_person_id == change.person_id
    if not (
        by_requester or by_citizen or access_change_station_may_decide(user=actor, person_id=change.person_id)
    ):
        raise AccessChangeRefused("Bạn không huỷ được yêu cầu này.", "You cannot cancel this request.")
    actor_id = actor.pk if actor is not None else None
    note = normalize_text(note)[:1000]
    who = both_languages(gettext_noop("the citizen")) if by_citizen and actor is None else ""
    change.state, change.decided_by_id, change.decided_at = AccessChangeState.CANCELLED, actor_id, clock.now()
    change.decision_note = note or who
    change.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    _access_history(
        change,
        AccessChangeState.PENDING,
        actor_id=actor_id,
        reason=change.decision_note or both_languages(gettext_noop("cancelled")),
    )
    audit_event_record(
        action=AuditEvent.Action.IDENTITY_CHANGE_CANCELLED,
        actor_id=actor_id,
        object_type=PERSON_ENTITY,
        object_id=str(change.person_id),
        detail={"access_change": change.pk, "by_citizen": by_citizen and actor is None},
    )
    return change


def access_changes_expire() -> int:
    """Close the changes that waited past their time (the periodic job); each with its history row."""
    expired = 0
    for change_id in AccessChange.objects.filter(
        state=AccessChangeState.PENDING, expires_at__lte=clock.now()
    ).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            change = AccessChange.objects.select_for_update().get(pk=change_id)
            if change.state != AccessChangeState.PENDING:
                continue
            change.state, change.decided_at = AccessChangeState.EXPIRED, clock.now()
            change.save(update_fields=["state", "decided_at"])
            _access_history(
                change,
                AccessChangeState.PENDING,
                actor_id=None,
                reason=both_languages(gettext_noop("expired")),
            )
            expired += 1
    return expired


def access_change_notice_text(change: AccessChange, event: str) -> tuple[str, str]:
    """(to whom, what): the phone on record is told of a request; the phone it had before, of a change."""
    if event == "requested":
        to = change.old_values.get("phone") or Person.objects.values_list("phone", flat=True).get(
            pk=change.person_id
        )
        text = access_change_words(
            change.changes,
            gettext_noop(
                "VaxReg: a change of the %(fields)s on your vaccination record was asked. If it was you, confirm "
                "it on the lookup page (/tra-cuu/) or at your commune health station; if not, do nothing and tell "
                "the station."
            ),
            {},
        )
        return to or "", text
    old_phone = change.old_values.get("phone")
    to = (
        old_phone
        if old_phone is not None
        else Person.objects.values_list("phone", flat=True).get(pk=change.person_id)
    )
    day = f"{(change.decided_at or clock.now()):%d/%m/%Y}"
    text = access_change_words(
        change.changes,
        gettext_noop(
            "VaxReg: the %(fields)s on your vaccination record was changed on %(day)s. If you did not ask for it, "
            "tell your commune health station at once."
        ),
        {"day": day},
    )
    return to or "", text


def access_change_notice_send(*, change_id: int, event: str) -> bool:
    """Send one notice of a change (the worker); False when there is no valid phone to tell or it failed."""
    change = AccessChange.objects.filter(pk=change_id).first()
    if change is None:
        return False
    to, text = access_change_notice_text(change, event)
    national, valid = normalize_phone(to)
    if not valid:
        return False
    try:
        message_send(to=national, text=text)
    except MessageNotSent:
        logger.warning("access change %s: the %s notice could not be sent", change.pk, event)
        return False
    return True
