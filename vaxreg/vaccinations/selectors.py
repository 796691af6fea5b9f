"""Reads of the vaccine catalogue: small tables, loaded whole into memory by the pipeline and the rules."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from vaxreg.core.touched import BaseUnits, UnitCount
from vaxreg.places.selectors import facility_refs
from vaxreg.vaccinations.catalogue import alias_key
from vaxreg.vaccinations.models import CatalogueParameter, DaySignOff, Dose, DoseStatus, Vaccine, VaccineAlias

_MISSING = object()

# Words people put around a vaccine name ("Vắc xin Pfizer", "AstraZeneca COVID-19 vaccine").
_NOISE_PREFIXES = ("vacxin", "vaccine", "vaccin", "vx", "covid19", "covid")
_NOISE_SUFFIXES = ("vaccine", "vacxin", "covid19vaccine", "covid19", "covid")


def vaccine_alias_map() -> dict[str, str]:
    """alias key (``catalogue.alias_key``) → vaccine code, including each vaccine's code and name."""
    result = dict(VaccineAlias.objects.values_list("alias_key", "vaccine_id"))
    for code, name in Vaccine.objects.values_list("code", "name"):
        result.setdefault(alias_key(code), code)
        result.setdefault(alias_key(name), code)
    return result


def vaccine_resolve(text: str | None, *, alias_map: dict[str, str]) -> str | None:
    """The vaccine code a typed name means, or None; tolerates "vắc xin …" / "… COVID-19" around it."""
    key = alias_key(text or "")
    while key:
        if key in alias_map:
            return alias_map[key]
        trimmed = next((key[len(p) :] for p in _NOISE_PREFIXES if key.startswith(p)), None)
        if trimmed is None:
            trimmed = next((key[: -len(s)] for s in _NOISE_SUFFIXES if key.endswith(s)), None)
        if trimmed is None:
            return None
        key = trimmed
    return None


def vaccine_catalogue() -> dict[str, Vaccine]:
    return {v.code: v for v in Vaccine.objects.all()}


def catalogue_parameter(key: str, default: Any = _MISSING) -> Any:
    """The value of a rule parameter; raises KeyError for an unknown key unless a default is given."""
    value = CatalogueParameter.objects.filter(key=key).values_list("value", flat=True).first()
    if value is None:
        if default is _MISSING:
            raise KeyError(key)
        return default
    return value


def catalogue_parameters() -> dict[str, Any]:
    return dict(CatalogueParameter.objects.values_list("key", "value"))


def vaccine_min_age_months(vaccine: Vaccine, *, on: dt.date) -> int:
    """The minimum age for this vaccine on a given day: date-dependent thresholds win over the default."""
    months = vaccine.min_age_months
    for step in sorted(vaccine.parameters.get("min_age_months_from", []), key=lambda s: s["from"]):
        if dt.date.fromisoformat(step["from"]) <= on:
            months = step["months"]
    return months


def vaccine_min_interval_days(vaccine: Vaccine, *, dose_number: int) -> int | None:
    """Minimum days between dose ``dose_number - 1`` and this dose, or None when the catalogue sets none."""
    value = vaccine.min_interval_days.get(str(dose_number))
    return int(value) if value is not None else None


@dataclass(frozen=True)
class DayToSignOff:
    day: dt.date
    doses: int
    signed_off: bool
    signed_by: str
    signed_at: dt.datetime | None


def days_of_facility(*, facility_id: int, limit: int = 60) -> list[DayToSignOff]:
    """The facility's latest days with doses, newest first, and whether each is signed off."""
    rows = (
        Dose.objects.filter(facility_id=facility_id)
        .values("vaccination_date")
        .annotate(n=Count("id"))
        .order_by("-vaccination_date")[:limit]
    )
    sign_offs = {
        s.day: s
        for s in DaySignOff.objects.filter(
            facility_id=facility_id, day__in=[r["vaccination_date"] for r in rows]
        ).select_related("signed_by")
    }
    days = []
    for row in rows:
        sign_off = sign_offs.get(row["vaccination_date"])
        days.append(
            DayToSignOff(
                day=row["vaccination_date"],
                doses=row["n"],
                signed_off=sign_off is not None,
                signed_by=sign_off.signed_by.username if sign_off else "",
                signed_at=sign_off.signed_at if sign_off else None,
            )
        )
    return days


def dose_figures(units: BaseUnits) -> Iterator[UnitCount]:
    """Per facility: the valid doses by dose number (key ``1``–``4``, ``""`` unknown) and by vaccine (key
    the catalogue code, ``""`` unknown); the days with doses and the days signed off (SPEC §6).

    Every dose has a facility, so only the facilities' own rows are read, without a join: the facilities'
    provinces come from their table, read once."""
    if units.everything:
        doses = Dose.objects.filter(status=DoseStatus.VALID)
        signed = DaySignOff.objects.all()
    else:
        wanted = sorted(units.facilities)
        doses = Dose.objects.filter(facility_id__in=wanted, status=DoseStatus.VALID)
        signed = DaySignOff.objects.filter(facility_id__in=wanted)
    grouped = doses.values_list("facility_id", "dose_number", "vaccine_id").annotate(n=Count("pk")).order_by()
    by_number: dict[tuple[int, str], int] = {}
    by_vaccine: dict[tuple[int, str], int] = {}
    for facility, number, vaccine, n in grouped:
        by_number[(facility, str(number or ""))] = by_number.get((facility, str(number or "")), 0) + n
        by_vaccine[(facility, vaccine or "")] = by_vaccine.get((facility, vaccine or ""), 0) + n
    days = dict(
        doses.values_list("facility_id").annotate(n=Count("vaccination_date", distinct=True)).order_by()
    )
    signed_days = dict(signed.values_list("facility_id").annotate(n=Count("pk")).order_by())
    provinces = {ref.id: ref.province_code for ref in facility_refs({*days, *signed_days}).values()}
    for (facility, key), n in by_number.items():
        yield facility, provinces.get(facility), "doses", key, n
    for (facility, key), n in by_vaccine.items():
        yield facility, provinces.get(facility), "vaccine", key, n
    for facility, n in days.items():
        yield facility, provinces.get(facility), "dose_days", "", n
    for facility, n in signed_days.items():
        yield facility, provinces.get(facility), "signed_days", "", n
