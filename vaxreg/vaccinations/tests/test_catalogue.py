import datetime as dt
import json

import pytest

from vaxreg.vaccinations.catalogue import alias_key
from vaxreg.vaccinations.models import Vaccine, VaccineAlias
from vaxreg.vaccinations.selectors import (
    catalogue_parameter,
    vaccine_alias_map,
    vaccine_catalogue,
    vaccine_min_age_months,
    vaccine_min_interval_days,
    vaccine_resolve,
)
from vaxreg.vaccinations.services import CATALOGUE_JSON, catalogue_load

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("AZ", "ASTRAZENECA"),
        ("astra zeneca", "ASTRAZENECA"),
        ("Astra", "ASTRAZENECA"),
        ("Covishield", "ASTRAZENECA"),
        ("Pfizer", "COMIRNATY"),
        ("pfizer-biontech", "COMIRNATY"),
        ("Comirnaty", "COMIRNATY"),
        ("MODERNA", "SPIKEVAX"),
        ("vero cell", "VEROCELL"),
        ("VERO CELL", "VEROCELL"),
        ("Verocell", "VEROCELL"),
        ("Sinopharm", "VEROCELL"),
        ("Sputnik", "SPUTNIKV"),
        ("J&J", "JANSSEN"),
        ("Johnson", "JANSSEN"),
        ("Hayat", "HAYATVAX"),
        ("Abđala", "ABDALA"),
        ("Covaxin", "COVAXIN"),
    ],
)
def test_names_as_people_type_them_find_their_vaccine(reference_data, typed, code):
    assert vaccine_alias_map()[alias_key(typed)] == code


def test_words_around_the_name_are_tolerated_and_unknown_names_are_not_guessed(reference_data):
    aliases = vaccine_alias_map()
    assert vaccine_resolve("Vắc-xin Moderna COVID-19", alias_map=aliases) == "SPIKEVAX"
    assert vaccine_resolve("AstraZeneca COVID-19 vaccine", alias_map=aliases) == "ASTRAZENECA"
    assert vaccine_resolve("Sinovac", alias_map=aliases) is None
    assert vaccine_resolve("", alias_map=aliases) is None
    assert vaccine_resolve("vắc xin", alias_map=aliases) is None


def test_catalogue_carries_the_eu_value_sets_and_doses(reference_data):
    catalogue = vaccine_catalogue()
    assert len(catalogue) == 9
    az = catalogue["ASTRAZENECA"]
    assert (az.eu_product, az.eu_manufacturer, az.eu_prophylaxis) == (
        "EU/1/21/1529",
        "ORG-100001699",
        "J07BX03",
    )
    assert catalogue["VEROCELL"].eu_manufacturer == "ORG-100020693"
    assert catalogue["JANSSEN"].primary_doses == 1
    assert catalogue["ABDALA"].primary_doses == 3


def test_intervals_and_ages_come_from_the_data(reference_data):
    catalogue = vaccine_catalogue()
    assert vaccine_min_interval_days(catalogue["ASTRAZENECA"], dose_number=2) == 28
    assert vaccine_min_interval_days(catalogue["COMIRNATY"], dose_number=2) == 21
    assert vaccine_min_interval_days(catalogue["COMIRNATY"], dose_number=3) == 90
    assert vaccine_min_interval_days(catalogue["COMIRNATY"], dose_number=4) == 120
    assert vaccine_min_interval_days(catalogue["ABDALA"], dose_number=3) == 14
    assert vaccine_min_interval_days(catalogue["SPIKEVAX"], dose_number=1) is None

    pfizer = catalogue["COMIRNATY"]
    assert vaccine_min_age_months(pfizer, on=dt.date(2021, 8, 1)) == 216
    assert vaccine_min_age_months(pfizer, on=dt.date(2021, 11, 1)) == 144
    assert vaccine_min_age_months(pfizer, on=dt.date(2022, 5, 1)) == 60
    assert vaccine_min_age_months(catalogue["ASTRAZENECA"], on=dt.date(2022, 5, 1)) == 216


def test_rule_parameters(reference_data):
    assert catalogue_parameter("campaign_start") == "2021-03-08"
    assert catalogue_parameter("min_birth_year") == 1900
    assert catalogue_parameter("no_such_parameter", default=7) == 7
    with pytest.raises(KeyError):
        catalogue_parameter("no_such_parameter")


def test_loading_again_keeps_everything_and_hand_added_aliases(reference_data):
    VaccineAlias.objects.create(alias_key="astrazenecatiemchung", vaccine_id="ASTRAZENECA")
    Vaccine.objects.filter(code="SPIKEVAX").update(min_interval_days={"2": 1})

    counts = catalogue_load()

    assert counts["vaccines"].updated == 1
    assert counts["vaccine_aliases"].created == 0 and counts["vaccine_aliases"].updated == 0
    assert Vaccine.objects.get(code="SPIKEVAX").min_interval_days["2"] == 28
    assert VaccineAlias.objects.filter(alias_key="astrazenecatiemchung").exists()


def test_an_alias_naming_two_vaccines_is_refused(reference_data, tmp_path):
    data = json.loads(CATALOGUE_JSON.read_text(encoding="utf-8"))
    data["vaccines"][1]["aliases"].append("A-Z")
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="names both ASTRAZENECA and COMIRNATY"):
        catalogue_load(path=path)
