"""Writes for the vaccine catalogue."""

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from vaxreg.places.services import SyncCount, reference_load_audit, table_sync
from vaxreg.vaccinations.catalogue import alias_key
from vaxreg.vaccinations.models import CatalogueParameter, Vaccine, VaccineAlias

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
