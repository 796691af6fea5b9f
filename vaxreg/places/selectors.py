"""Reads of administrative units and facilities.

The ``*_map`` functions build plain dictionaries in a couple of queries: the import pipeline loads them
once per file and then resolves every row in memory.
"""

from dataclasses import dataclass

from vaxreg.places.models import Commune, Facility, LegacyCommune, LegacyProvince

CommuneCodes = tuple[str | None, str | None]


def _without_leading_zeros(code: str) -> list[str]:
    """ "00097" → ["0097", "097", "97"]: the forms Excel and hand typing leave behind."""
    return [code[i:] for i in range(1, len(code)) if code[:i].strip("0") == ""]


def commune_code_map() -> dict[str, CommuneCodes]:
    """Any accepted commune code text → (2025 commune code or None, old commune code or None).

    A code that exists in the 2025 table is read as a 2025 code; otherwise as an old code, mapped to
    the 2025 commune it went into (None when it has none). Codes without their leading zeros are
    accepted too, since zero-padding them back gives exactly one code.
    """
    result: dict[str, CommuneCodes] = {}
    for code, new_code in LegacyCommune.objects.values_list("code", "new_commune_id"):
        result[code] = (new_code, code)
    for code in Commune.objects.values_list("code", flat=True):
        result[code] = (code, None)
    for code, value in list(result.items()):
        for short in _without_leading_zeros(code):
            result.setdefault(short, value)
    return result


@dataclass(frozen=True)
class FacilityRef:
    id: int
    code: str
    province_code: str
    commune_code: str


def facility_map() -> dict[str, FacilityRef]:
    """Facility code → reference, keyed by the exact code and by its upper-cased, stripped form."""
    result: dict[str, FacilityRef] = {}
    rows = Facility.objects.values_list("id", "code", "province_id", "commune_id")
    refs = [FacilityRef(id=i, code=code, province_code=p, commune_code=c) for i, code, p, c in rows]
    for ref in refs:
        result.setdefault(ref.code.strip().upper(), ref)
    # Exact codes win over a normalised form that happens to collide with another facility's code.
    for ref in refs:
        result[ref.code] = ref
    return result


def province_communes(province_code: str) -> list[Commune]:
    return list(Commune.objects.filter(province_id=province_code).order_by("code"))


def province_facilities(province_code: str) -> list[Facility]:
    return list(Facility.objects.filter(province_id=province_code).select_related("commune").order_by("code"))


def legacy_province_for_new(province_code: str) -> list[LegacyProvince]:
    """The old provinces merged into a new one (the new Huế "46" ← old Thừa Thiên Huế "46")."""
    return list(LegacyProvince.objects.filter(new_province_id=province_code).order_by("code"))
