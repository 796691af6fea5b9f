"""Writes for administrative units and facilities."""

import csv
import io
import logging
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import models, transaction

from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.core.text import fold, normalize_text
from vaxreg.places import selectors, sources
from vaxreg.places.models import (
    Commune,
    CommuneKind,
    Facility,
    LegacyCommune,
    LegacyDistrict,
    LegacyProvince,
    Province,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncCount:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def table_sync(*, model: type[models.Model], rows: Mapping[Any, dict[str, Any]], key: str = "") -> SyncCount:
    """Make ``model`` hold ``rows`` (natural key → field values by attname) with bulk statements only.

    ``key`` names the natural-key field (the primary key by default). Rows already equal are left alone,
    so a second load writes nothing; rows missing from ``rows`` are kept because records may point at them.
    """
    pk_name = model._meta.pk.attname
    key = key or pk_name
    field_names = sorted({name for values in rows.values() for name in values})
    existing = {
        r[key]: r for r in model._default_manager.values(*dict.fromkeys([pk_name, key, *field_names]))
    }
    to_create = [model(**{key: k}, **values) for k, values in rows.items() if k not in existing]
    to_update = [
        model(**{pk_name: existing[k][pk_name], key: k}, **values)
        for k, values in rows.items()
        if k in existing and any(existing[k][name] != v for name, v in values.items())
    ]
    model._default_manager.bulk_create(to_create, batch_size=2000)
    if to_update:
        model._default_manager.bulk_update(to_update, field_names, batch_size=1000)
    return SyncCount(
        created=len(to_create), updated=len(to_update), unchanged=len(rows) - len(to_create) - len(to_update)
    )


def reference_load_audit(*, object_type: str, counts: Mapping[str, SyncCount]) -> None:
    """One audit event per load that changed something; a load that found everything right leaves no trace."""
    changed = {name: asdict(c) for name, c in counts.items() if c.created or c.updated}
    if changed:
        audit_event_record(
            action=AuditEvent.Action.REFERENCE_LOADED, actor_id=None, object_type=object_type, detail=changed
        )


def _majority(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    # Ties go to the lowest code so that the choice does not depend on row order.
    return min(counts, key=lambda code: (-counts[code], code)) if counts else None


@transaction.atomic
def reference_load(*, verbosity: int = 1) -> dict[str, Any]:
    """Load the 2025 provinces and communes, the old units and the old→new map; idempotent.

    The vaccine catalogue belongs to ``vaccinations`` (``catalogue_load``); the ``reference_load``
    command runs both.
    """
    source = sources.admin_units_read()
    cccd_names = sources.cccd_provinces_read()

    provinces = {
        c.province_code: {
            "name": c.province_name,
            "short_name": c.province_short_name,
            "name_key": fold(c.province_name),
        }
        for c in source.new_communes
    }
    communes = {
        c.code: {
            "name": c.name,
            "short_name": c.short_name,
            "kind": c.kind,
            "province_id": c.province_code,
            "name_key": fold(c.name),
        }
        for c in source.new_communes
    }
    province_of_commune = {code: values["province_id"] for code, values in communes.items()}

    legacy_codes = {f"0{c.province_code}" for c in source.legacy_communes}
    if legacy_codes != set(cccd_names):
        differing = sorted(legacy_codes ^ set(cccd_names))
        raise ValueError(f"cccd_provinces.csv and the package disagree on the old provinces: {differing}")
    # One old province may have been split: it goes to the new province most of its communes went to.
    new_province_votes: dict[str, list[str | None]] = {}
    for c in source.legacy_communes:
        new_province_votes.setdefault(c.province_code, []).append(
            province_of_commune.get(c.new_commune_code or "")
        )
    legacy_provinces = {
        cccd_code[1:]: {
            "name": name,
            "cccd_code": cccd_code,
            "new_province_id": _majority(new_province_votes.get(cccd_code[1:], [])),
        }
        for cccd_code, name in cccd_names.items()
    }
    legacy_districts = {
        c.district_code: {"name": c.district_name, "province_id": c.province_code}
        for c in source.legacy_communes
    }
    legacy_communes = {
        c.code: {
            "name": c.name,
            "district_id": c.district_code,
            "province_id": c.province_code,
            "new_commune_id": c.new_commune_code,
        }
        for c in source.legacy_communes
        if c.code
    }

    counts = {
        "provinces": table_sync(model=Province, rows=provinces),
        "communes": table_sync(model=Commune, rows=communes),
        "legacy_provinces": table_sync(model=LegacyProvince, rows=legacy_provinces),
        "legacy_districts": table_sync(model=LegacyDistrict, rows=legacy_districts),
        "legacy_communes": table_sync(model=LegacyCommune, rows=legacy_communes),
    }
    if verbosity >= 2:
        for name, count in counts.items():
            logger.info("%s: %s", name, count)
    reference_load_audit(object_type="admin_units", counts=counts)
    return {
        **counts,
        "legacy_communes_unmapped": sum(1 for v in legacy_communes.values() if not v["new_commune_id"]),
        # Island districts (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa, Lý Sơn, Côn Đảo) had no communes before 2025.
        "legacy_districts_without_communes": sum(1 for c in source.legacy_communes if not c.code),
    }


# --- Facilities -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityInput:
    code: str
    name: str
    commune_code: str
    row_number: int | None = None  # line in the source file, for error reports


@dataclass(frozen=True)
class FacilityRowError:
    row_number: int | None
    code: str
    message_vi: str
    message_en: str

    def __str__(self) -> str:
        where = f"Dòng/Row {self.row_number}: " if self.row_number is not None else ""
        return f"{where}{self.message_vi} / {self.message_en}"


@dataclass
class FacilityUpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[FacilityRowError] = field(default_factory=list)
    facilities: list[Facility] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.errors)


_CODE_MAX = Facility._meta.get_field("code").max_length or 32
_NAME_MAX = Facility._meta.get_field("name").max_length or 200


class _RowRejected(Refusal):
    """One row of a facility file is refused (the others load); the reason names what is wrong with it."""


def _facility_row_commune(
    row: FacilityInput, commune_codes: Mapping[str, tuple[str | None, str | None]], seen: set[str]
) -> str:
    """The 2025 commune code of a valid row; raises _RowRejected with the reason otherwise."""
    if not row.code:
        raise _RowRejected("Thiếu mã cơ sở", "Facility code is missing")
    if len(row.code) > _CODE_MAX:
        raise _RowRejected(
            f"Mã cơ sở dài quá {_CODE_MAX} ký tự", f"Facility code longer than {_CODE_MAX} characters"
        )
    if row.code.upper() in seen:
        raise _RowRejected(
            f"Mã cơ sở {row.code} bị lặp trong tệp", f"Facility code {row.code} appears twice in the file"
        )
    if not row.name:
        raise _RowRejected("Thiếu tên cơ sở", "Facility name is missing")
    if len(row.name) > _NAME_MAX:
        raise _RowRejected(
            f"Tên cơ sở dài quá {_NAME_MAX} ký tự", f"Facility name longer than {_NAME_MAX} characters"
        )
    if not row.commune_code:
        raise _RowRejected("Thiếu mã xã", "Commune code is missing")
    new_code, legacy_code = commune_codes.get(row.commune_code, (None, None))
    if new_code is None and legacy_code is not None:
        raise _RowRejected(
            f"Mã xã cũ {row.commune_code} chưa có xã mới tương ứng",
            f"Old commune code {row.commune_code} has no 2025 commune",
        )
    if new_code is None:
        raise _RowRejected(
            f"Mã xã {row.commune_code} không tồn tại", f"Commune code {row.commune_code} does not exist"
        )
    return new_code


@transaction.atomic
def facility_upsert_many(*, rows: Iterable[FacilityInput]) -> FacilityUpsertResult:
    """Create or update facilities by code; a bad row is reported and skipped, the others are stored.

    ``commune_code`` may be a 2025 code or an old code (mapped to its 2025 commune).
    """
    commune_codes = selectors.commune_code_map()
    province_of = dict(Commune.objects.values_list("code", "province_id"))
    result = FacilityUpsertResult()
    wanted: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for raw in rows:
        row = FacilityInput(
            code=(raw.code or "").strip(),
            name=normalize_text(raw.name),
            commune_code=(raw.commune_code or "").strip(),
            row_number=raw.row_number,
        )
        try:
            commune_code = _facility_row_commune(row, commune_codes, seen)
        except _RowRejected as rejected:
            result.errors.append(
                FacilityRowError(row.row_number, row.code, rejected.message_vi, rejected.message_en)
            )
            continue
        seen.add(row.code.upper())
        wanted[row.code] = {
            "name": row.name,
            "commune_id": commune_code,
            "province_id": province_of[commune_code],
        }

    existing = {f.code: f for f in Facility.objects.filter(code__in=list(wanted))}
    to_create, to_update = [], []
    for code, values in wanted.items():
        facility = existing.get(code)
        if facility is None:
            to_create.append(Facility(code=code, **values))
        elif any(getattr(facility, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(facility, k, v)
            to_update.append(facility)
    Facility.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        Facility.objects.bulk_update(to_update, ["name", "commune_id", "province_id"], batch_size=1000)
    result.created, result.updated = len(to_create), len(to_update)
    result.unchanged = len(wanted) - result.created - result.updated
    result.facilities = list(Facility.objects.filter(code__in=list(wanted)).order_by("code"))
    return result


class FacilityFileError(Refusal, ValueError):
    """The file as a whole cannot be read (not a row: the header or the encoding)."""

    def __str__(self) -> str:
        return self.bilingual()


_REQUIRED_COLUMNS = ("code", "name", "commune_code")


def facilities_load_csv(*, path: Path) -> FacilityUpsertResult:
    """Load a CSV with columns code,name,commune_code (UTF-8, with or without BOM)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FacilityFileError(
            f"Tệp không phải UTF-8 (byte {exc.start})", f"The file is not UTF-8 (byte {exc.start})"
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [fold(h).replace(" ", "_") for h in next(reader, [])]
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FacilityFileError(f"Thiếu cột: {', '.join(missing)}", f"Missing columns: {', '.join(missing)}")
    index = {c: header.index(c) for c in _REQUIRED_COLUMNS}

    def inputs() -> Iterable[FacilityInput]:
        # Row numbers count the header as row 1, as a spreadsheet shows them.
        for row_number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            cells = cells + [""] * (len(header) - len(cells))
            yield FacilityInput(
                code=cells[index["code"]],
                name=cells[index["name"]],
                commune_code=cells[index["commune_code"]],
                row_number=row_number,
            )

    return facility_upsert_many(rows=inputs())


def _place_phrase(province: Province) -> str:
    """ "tỉnh Nghệ An" or "thành phố Huế", as a facility name says it."""
    kind = "thành phố" if fold(province.name).startswith("thanh pho") else "tỉnh"
    return f"{kind} {province.short_name}"


def _commune_phrase(commune: Commune) -> str:
    # "Trạm Y tế phường Ba Đình": the unit word is lower case inside a name.
    return commune.name[:1].lower() + commune.name[1:]


def facilities_generate(*, province_code: str, seed: int = 0) -> list[Facility]:
    """Plausible facilities for a demo province: a health station per commune and a few hospitals.

    Codes are derived from unit codes, so running it again updates the same rows instead of adding new ones.
    """
    province = Province.objects.get(code=province_code)
    communes = list(Commune.objects.filter(province=province).order_by("code"))
    if not communes:
        return []
    rng = random.Random(f"{province_code}:{seed}")
    urban = [c for c in communes if c.kind == CommuneKind.PHUONG] or communes
    place = _place_phrase(province)
    district_centres = rng.sample(communes, k=min(3, len(communes)))
    rows = [FacilityInput(f"TYT{c.code}", f"Trạm Y tế {_commune_phrase(c)}", c.code) for c in communes]
    rows += [
        FacilityInput(f"BV{province_code}01", f"Bệnh viện Đa khoa {place}", rng.choice(urban).code),
        FacilityInput(f"BV{province_code}02", f"Bệnh viện Sản - Nhi {place}", rng.choice(urban).code),
        FacilityInput(f"CDC{province_code}", f"Trung tâm Kiểm soát bệnh tật {place}", rng.choice(urban).code),
    ]
    rows += [
        FacilityInput(f"TTYT{province_code}{i:02d}", f"Trung tâm Y tế khu vực {c.short_name}", c.code)
        for i, c in enumerate(district_centres, start=1)
    ]
    return facility_upsert_many(rows=rows).facilities
