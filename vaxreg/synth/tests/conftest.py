import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from vaxreg.places.selectors import commune_code_map
from vaxreg.places.services import facilities_generate
from vaxreg.synth.defects import DefectRates
from vaxreg.synth.generator import SynthPlace
from vaxreg.synth.selectors import synth_place_get
from vaxreg.synth.services import SynthSummary, synth_write
from vaxreg.vaccinations.models import Vaccine
from vaxreg.vaccinations.selectors import vaccine_alias_map, vaccine_catalogue

PROVINCE = "46"  # Huế: one old province, urban wards and rural communes
PERSONS = 3_000
MIXED_RATES = DefectRates.uniform(0.02)  # every kind ~60 persons: enough to check each one


@dataclass(frozen=True)
class Hue:
    place: SynthPlace
    mixed: SynthSummary  # every defect kind at 2% of persons
    default: SynthSummary  # the default rates
    clean: SynthSummary  # DefectRates.none()
    small_csv: SynthSummary
    small_xlsx: SynthSummary
    alias_map: dict[str, str]
    vaccines: dict[str, Vaccine]
    commune_codes: dict[str, tuple[str | None, str | None]]


@pytest.fixture(scope="session")
def hue(
    reference_data: dict[str, Any], django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Hue:
    """Files for Huế generated once; the facilities they need are created and rolled back around it."""
    out = tmp_path_factory.mktemp("synth")
    with django_db_blocker.unblock(), transaction.atomic():
        facilities_generate(province_code=PROVINCE)
        result = Hue(
            place=synth_place_get(PROVINCE),
            mixed=synth_write(
                out=out / "mixed.csv", persons=PERSONS, province_code=PROVINCE, seed=11, rates=MIXED_RATES
            ),
            default=synth_write(out=out / "default.csv", persons=PERSONS, province_code=PROVINCE, seed=12),
            clean=synth_write(
                out=out / "clean.csv",
                persons=PERSONS,
                province_code=PROVINCE,
                seed=13,
                rates=DefectRates.none(),
            ),
            small_csv=synth_write(out=out / "small.csv", persons=300, province_code=PROVINCE, seed=14),
            small_xlsx=synth_write(out=out / "small.xlsx", persons=300, province_code=PROVINCE, seed=14),
            alias_map=vaccine_alias_map(),
            vaccines=vaccine_catalogue(),
            commune_codes=commune_code_map(),
        )
        transaction.set_rollback(True)
    return result


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def truth_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
