"""Writes for the vaccine catalogue."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.db import transaction

from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.core.touched import figures_touched
from vaxreg.places.services import SyncCount, reference_load_audit, table_sync
from vaxreg.vaccinations.catalogue import alias_key
from vaxreg.vaccinations.models import CatalogueParameter, DaySignOff, Dose, Vaccine, VaccineAlias

CATALOGUE_JSON = Path(__file__).resolve().parent / "data" / "catalogue.json"

_VACCINE_FIELDS = (
    "name",
    "manufacturer",
    "primary_doses",
    "eu_product",
    "eu_manufacturer",
    "eu_prophylaxis",
    "min_age_months",
    "min_interval_days",
    "parameters",
)


def _alias_rows(vaccines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """alias key → vaccine; a vaccine's own code and name count as aliases too."""
    rows: dict[str, dict[str, Any]] = {}
    for vaccine in vaccines:
        for text in [vaccine["code"], vaccine["name"], *vaccine.get("aliases", [])]:
            key = alias_key(text)
            owner = rows.get(key, {}).get("vaccine_id", vaccine["code"])
            if owner != vaccine["code"]:
                raise ValueError(f"Alias {text!r} ({key}) names both {owner} and {vaccine['code']}")
            if key:
                rows[key] = {"vaccine_id": vaccine["code"]}
    return rows


@transaction.atomic
def catalogue_load(*, path: Path = CATALOGUE_JSON) -> dict[str, SyncCount]:
    """Load vaccines, their aliases and the rule parameters from the catalogue file; idempotent.

    Aliases added by hand (not in the file) are kept.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    vaccines = {v["code"]: {f: v[f] for f in _VACCINE_FIELDS} for v in data["vaccines"]}
    parameters = {
        p["key"]: {"value": p["value"], "description": p.get("description", "")} for p in data["parameters"]
    }
    counts = {
        "vaccines": table_sync(model=Vaccine, rows=vaccines),
        "vaccine_aliases": table_sync(
            model=VaccineAlias, rows=_alias_rows(data["vaccines"]), key="alias_key"
        ),
        "catalogue_parameters": table_sync(model=CatalogueParameter, rows=parameters),
    }
    reference_load_audit(object_type="vaccine_catalogue", counts=counts)
    return counts


class SignOffRefused(Refusal):
    """A day that cannot be signed off (not the facility's, in the future, already signed off)."""


@transaction.atomic
def day_sign_off(*, actor: Any, facility_id: int, day: dt.date, note: str = "") -> DaySignOff:
    """The facility's head signs off one day's doses after review (SPEC §6).

    Signed-off doses are then changed only by the correction service with a reason; a re-imported row that
    would change one is refused with its reason instead.
    """
    if not user_can(actor, Capability.SIGN_OFF) or actor.facility_id != facility_id:
        raise SignOffRefused(
            "Chỉ cơ sở tiêm của các mũi tiêm này mới ký duyệt được.",
            "Only the facility that gave these doses can sign them off.",
        )
    if day > clock.today():
        raise SignOffRefused(
            "Không ký duyệt được ngày trong tương lai.", "A day in the future cannot be signed off."
        )
    if DaySignOff.objects.filter(facility_id=facility_id, day=day).exists():
        raise SignOffRefused(
            f"Ngày {day:%d/%m/%Y} đã được ký duyệt.", f"{day:%d/%m/%Y} is already signed off."
        )
    doses = Dose.objects.filter(facility_id=facility_id, vaccination_date=day)
    count = doses.update(signed_off=True)
    if count == 0:
        raise SignOffRefused(
            f"Ngày {day:%d/%m/%Y} không có mũi tiêm nào.", f"There are no doses on {day:%d/%m/%Y}."
        )
    sign_off = DaySignOff.objects.create(
        facility_id=facility_id,
        day=day,
        signed_by=actor,
        signed_at=clock.now(),
        doses=count,
        note=note[:1000],
    )
    figures_touched(facilities=[facility_id])  # the days signed off of the days with doses
    audit_event_record(
        action=AuditEvent.Action.DAY_SIGNED_OFF,
        actor_id=actor.pk,
        object_type="facility",
        object_id=str(facility_id),
        detail={"day": day.isoformat(), "doses": count},
    )
    return sign_off
