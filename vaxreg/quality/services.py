"""Running the rules: load persons and doses in bulk, evaluate in Python, reconcile the findings in bulk."""

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction

from vaxreg.core import clock
from vaxreg.people.models import Person
from vaxreg.quality.models import Finding
from vaxreg.quality.rules import (
    ID_SHARED,
    DoseSnapshot,
    FindingDraft,
    Parameters,
    PersonSnapshot,
    id_shared_draft,
    person_evaluate,
)
from vaxreg.vaccinations.models import Dose, DoseStatus
from vaxreg.vaccinations.selectors import catalogue_parameter, vaccine_catalogue

_PERSON_COLUMNS = (
    "id",
    "full_name",
    "birth_year",
    "birth_month",
    "birth_day",
    "birth_date_raw",
    "gender",
    "id_type",
    "id_number",
    "id_repaired",
    "phone",
)
_DOSE_COLUMNS = ("person_id", "id", "vaccine_id", "vaccine_raw", "vaccination_date", "dose_number")
_IN_CHUNK = 900  # SQLite allows 999 parameters per statement
_USABLE_ID_TYPES = ("CCCD", "CMND", "PASSPORT")

FindingKey = tuple[int, int | None, str]  # (person id, dose id or None, code)


@dataclass
class CheckResult:
    persons: int = 0
    opened: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    def add(self, other: "CheckResult") -> None:
        self.persons += other.persons
        self.opened.update(other.opened)
        self.closed.update(other.closed)
        self.unchanged.update(other.unchanged)

    def open_by_code(self) -> Counter[str]:
        """Open findings per code among the checked persons after the check."""
        return self.opened + self.unchanged


def parameters_load(*, today: dt.date | None = None) -> Parameters:
    return Parameters(
        campaign_start=dt.date.fromisoformat(catalogue_parameter("campaign_start")),
        min_birth_year=int(catalogue_parameter("min_birth_year")),
        today=today or clock.today(),
        vaccines=vaccine_catalogue(),
    )


def _chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _snapshots_load(person_ids: list[int]) -> tuple[list[PersonSnapshot], dict[int, list[DoseSnapshot]]]:
    persons: list[PersonSnapshot] = []
    doses: dict[int, list[DoseSnapshot]] = defaultdict(list)
    for part in _chunks(person_ids):
        persons += [
            PersonSnapshot(*row) for row in Person.objects.filter(id__in=part).values_list(*_PERSON_COLUMNS)
        ]
        rows = Dose.objects.filter(person_id__in=part, status=DoseStatus.VALID).values_list(*_DOSE_COLUMNS)
        for person_id, *values in rows:
            doses[person_id].append(DoseSnapshot(*values))
    return persons, doses


def _id_shared(persons: list[PersonSnapshot]) -> dict[int, int]:
    """person id → how many other persons carry its ID number with another name or birth date.

    One query per chunk of ID numbers: every person holding one of them, compared in Python.
    """
    numbers = sorted({p.id_number for p in persons if p.id_type in _USABLE_ID_TYPES and p.id_number})
    holders: dict[str, list[tuple[int, str, int | None, int | None, int | None]]] = defaultdict(list)
    for start in range(0, len(numbers), _IN_CHUNK):
        rows = Person.objects.filter(id_number__in=numbers[start : start + _IN_CHUNK]).values_list(
            "id_number", "id", "name_key", "birth_year", "birth_month", "birth_day"
        )
        for number, *rest in rows:
            holders[number].append(tuple(rest))  # type: ignore[arg-type]
    result: dict[int, int] = {}
    for p in persons:
        group = holders.get(p.id_number, [])
        if len(group) < 2:
            continue
        mine = next((h for h in group if h[0] == p.id), None)
        if mine is None:
            continue
        others = sum(1 for h in group if h[0] != p.id and h[1:] != mine[1:])
        if others:
            result[p.id] = others
    return result


def _with_id_holders(ids: list[int]) -> list[int]:
    numbers: set[str] = set()
    for part in _chunks(ids):
        numbers.update(
            Person.objects.filter(id__in=part, id_type__in=_USABLE_ID_TYPES)
            .exclude(id_number="")
            .values_list("id_number", flat=True)
        )
        for detail in Finding.objects.filter(person_id__in=part, code=ID_SHARED, is_open=True).values_list(
            "detail", flat=True
        ):
            numbers.add(detail.get("id_number", ""))
    numbers.discard("")
    holders = set(ids)
    ordered = sorted(numbers)
    for start in range(0, len(ordered), _IN_CHUNK):
        holders.update(
            Person.objects.filter(id_number__in=ordered[start : start + _IN_CHUNK]).values_list(
                "id", flat=True
            )
        )
    return sorted(holders)


def _evaluate(
    persons: list[PersonSnapshot], doses: dict[int, list[DoseSnapshot]], params: Parameters
) -> dict[FindingKey, FindingDraft]:
    drafts: dict[FindingKey, FindingDraft] = {}
    shared = _id_shared(persons)
    for p in persons:
        found = person_evaluate(p, doses.get(p.id, []), params)
        if p.id in shared:
            found.append(id_shared_draft(p, shared[p.id]))
        for draft in found:
            drafts.setdefault((p.id, draft.dose_id, draft.code), draft)
    return drafts


@transaction.atomic
def quality_check_persons(
    *, person_ids: Iterable[int], params: Parameters | None = None, with_id_holders: bool = True
) -> CheckResult:
    """Re-run every rule for these persons and bring their stored findings in line.

    New findings are opened, findings whose cause is gone are closed (kept, with ``closed_at``), and
    findings still present are left as they are (their message is refreshed when the values changed).
    A few queries per 1,000 persons, whatever their number of doses.

    ID_SHARED concerns more than one person: with ``with_id_holders`` the other holders of these persons'
    ID numbers, now or at their last check, are checked too, so that changing one person's ID opens or
    closes the finding on both sides. A full scan, which reaches everyone anyway, turns it off.
    """
    ids = sorted(set(person_ids))
    if with_id_holders:
        ids = _with_id_holders(ids)
    result = CheckResult(persons=len(ids))
    if not ids:
        return result
    params = params or parameters_load()
    persons, doses = _snapshots_load(ids)
    drafts = _evaluate(persons, doses, params)
    stored: dict[FindingKey, Finding] = {}
    for part in _chunks(ids):
        for finding in Finding.objects.filter(person_id__in=part, is_open=True).only(
            "id", "person_id", "dose_id", "code", "detail", "message_vi", "message_en"
        ):
            stored[(finding.person_id, finding.dose_id, finding.code)] = finding

    now = clock.now()
    to_close = [f for key, f in stored.items() if key not in drafts]
    to_refresh = []
    for key, finding in stored.items():
        draft = drafts.get(key)
        if draft is not None and draft.detail != finding.detail:
            finding.detail, finding.message_vi, finding.message_en = (
                draft.detail,
                draft.message_vi,
                draft.message_en,
            )
            to_refresh.append(finding)
    to_open = [
        Finding(
            person_id=person_id,
            dose_id=dose_id,
            code=code,
            severity=d.severity,
            fields=list(d.fields),
            message_vi=d.message_vi,
            message_en=d.message_en,
            detail=d.detail,
            opened_at=now,
            is_open=True,
        )
        for (person_id, dose_id, code), d in drafts.items()
        if (person_id, dose_id, code) not in stored
    ]
    for finding in to_close:
        finding.is_open, finding.closed_at = False, now
    Finding.objects.bulk_update(to_close, ["is_open", "closed_at"], batch_size=500)
    Finding.objects.bulk_update(to_refresh, ["detail", "message_vi", "message_en"], batch_size=500)
    Finding.objects.bulk_create(to_open, batch_size=500)
    result.opened.update(f.code for f in to_open)
    result.closed.update(f.code for f in to_close)
    result.unchanged.update(key[2] for key in stored if key in drafts)
    return result


@dataclass(frozen=True)
class ScanProgress:
    persons_done: int
    persons_total: int
    last_id: int


def quality_scan(
    *,
    province_code: str | None = None,
    batch_size: int = 5000,
    start_after_id: int = 0,
    progress: Callable[[ScanProgress], None] | None = None,
) -> CheckResult:
    """Check every person (of a province) in id order, one transaction per batch.

    Each batch commits on its own, so a stopped scan resumes with ``start_after_id`` set to the last id
    that the progress callback reported.
    """
    persons = Person.objects.all()
    if province_code:
        persons = persons.filter(province_id=province_code)
    total = persons.filter(id__gt=start_after_id).count()
    params = parameters_load()
    result = CheckResult()
    last_id = start_after_id
    while True:
        ids = list(persons.filter(id__gt=last_id).order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        result.add(quality_check_persons(person_ids=ids, params=params, with_id_holders=False))
        last_id = ids[-1]
        if progress is not None:
            progress(ScanProgress(persons_done=result.persons, persons_total=total, last_id=last_id))
    return result
