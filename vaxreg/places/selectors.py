"""Reads of administrative units and facilities.

The ``*_map`` functions build plain dictionaries in a couple of queries: the import pipeline loads them
once per file and then resolves every row in memory.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from vaxreg.places.models import Commune, Facility, LegacyCommune, LegacyProvince, Province

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


def facility_refs(ids: Iterable[int]) -> dict[int, FacilityRef]:
    """Facility id → reference (its code, commune and province), for these ids."""
    wanted = sorted(set(ids))
    refs: dict[int, FacilityRef] = {}
    for start in range(0, len(wanted), 1000):
        rows = Facility.objects.filter(pk__in=wanted[start : start + 1000]).values_list(
            "id", "code", "province_id", "commune_id"
        )
        refs.update(
            {i: FacilityRef(id=i, code=code, province_code=p, commune_code=c) for i, code, p, c in rows}
        )
    return refs


def commune_provinces(codes: Iterable[str] | None = None) -> dict[str, str]:
    """Commune code → its province's code (every commune, or these)."""
    communes = Commune.objects.all() if codes is None else Commune.objects.filter(pk__in=sorted(set(codes)))
    return dict(communes.values_list("code", "province_id"))


def facility_ids_of_province(province_code: str) -> list[int]:
    return list(
        Facility.objects.filter(province_id=province_code).order_by("pk").values_list("pk", flat=True)
    )


def province_get(code: str) -> Province | None:
    return Province.objects.filter(pk=code).first()


def commune_get(code: str) -> Commune | None:
    return Commune.objects.select_related("province").filter(pk=code).first()


def facility_get_by_code(code: str) -> Facility | None:
    return Facility.objects.select_related("commune", "province").filter(code=code).first()


def provinces_named() -> list[tuple[str, str]]:
    """(code, name) of every province, in code order."""
    return list(Province.objects.order_by("code").values_list("code", "name"))


def communes_named(province_code: str) -> list[tuple[str, str]]:
    """(code, name) of the province's communes, in code order."""
    return list(
        Commune.objects.filter(province_id=province_code).order_by("code").values_list("code", "name")
    )


def facilities_named(commune_code: str) -> list[tuple[int, str, str]]:
    """(id, code, name) of the commune's facilities, in code order."""
    return list(
        Facility.objects.filter(commune_id=commune_code).order_by("code").values_list("pk", "code", "name")
    )


def facility_code_of(facility_id: int | None) -> str | None:
    if facility_id is None:
        return None
    return Facility.objects.filter(pk=facility_id).values_list("code", flat=True).first()
