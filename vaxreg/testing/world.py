"""A small, named world for tests that need places, persons, doses and one user per role.

Two provinces (Hà Nội 01, TP Hồ Chí Minh 79), three communes, three facilities, five persons and one
user of each role. ``Phạm Thị Hoa`` lives in Hồ Chí Minh but got a dose in Hà Nội, so she is the person
two jurisdictions share; the two ``Nguyễn Thị Đào`` have the same name in different provinces, so a
name search shows whether scoping holds.

Only tests import this module (it reaches above core on purpose: it builds the whole world).
"""

import datetime as dt
import json
from dataclasses import dataclass, field

import pytest

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.services import user_create
from vaxreg.core import clock
from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.models import SourceType
from vaxreg.core.text import fold
from vaxreg.people.models import Gender, IdType, Person
from vaxreg.places.models import Commune, Facility, Province
from vaxreg.vaccinations.models import CatalogueParameter, Dose, Vaccine
from vaxreg.vaccinations.services import CATALOGUE_JSON

TEST_PASSWORD = "correct-horse-battery-9"


@dataclass
class World:
    provinces: dict[str, Province] = field(default_factory=dict)
    communes: dict[str, Commune] = field(default_factory=dict)
    facilities: dict[str, Facility] = field(default_factory=dict)
    persons: dict[str, Person] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    vaccine: Vaccine | None = None

    # Which persons each user must see; everyone else is outside its jurisdiction.
    VISIBLE = {
        "national": {"dao_hn", "binh_hn", "hoa_traveller", "cuong_hcm", "dao_hcm"},
        "admin": {"dao_hn", "binh_hn", "hoa_traveller", "cuong_hcm", "dao_hcm"},
        "province_hn": {"dao_hn", "binh_hn", "hoa_traveller"},
        "province_hcm": {"cuong_hcm", "dao_hcm", "hoa_traveller"},
        "commune_badinh": {"dao_hn", "hoa_traveller"},
        "commune_hoankiem": {"binh_hn"},
        "facility_hn1": {"dao_hn", "hoa_traveller"},
        "facility_hcm": {"cuong_hcm", "dao_hcm", "hoa_traveller"},
        "police_badinh": set(),
    }

    def visible(self, user_key: str) -> set[str]:
        return self.VISIBLE[user_key]

    def hidden(self, user_key: str) -> set[str]:
        return set(self.persons) - self.VISIBLE[user_key]


def person_make(
    *,
    full_name: str,
    commune: Commune | None,
    id_number: str = "",
    phone: str = "",
    birth: tuple[int, int | None, int | None] = (1990, 1, 15),
    gender: str = Gender.FEMALE,
) -> Person:
    now = clock.now()
    id_type = {12: IdType.CCCD, 9: IdType.CMND}.get(
        len(id_number), IdType.NONE if not id_number else IdType.PASSPORT
    )
    return Person.objects.create(
        full_name=full_name,
        name_key=fold(full_name),
        birth_year=birth[0],
        birth_month=birth[1],
        birth_day=birth[2],
        gender=gender,
        id_type=id_type,
        id_number=id_number,
        phone=phone,
        commune=commune,
        province=commune.province if commune else None,
        created_at=now,
        updated_at=now,
    )


def dose_make(
    *,
    person: Person,
    facility: Facility,
    source_record_id: str,
    date: dt.date,
    number: int | None,
    vaccine: Vaccine | None,
) -> Dose:
    now = clock.now()
    return Dose.objects.create(
        person=person,
        facility=facility,
        source_record_id=source_record_id,
        vaccination_date=date,
        dose_number=number,
        vaccine=vaccine,
        vaccine_raw=vaccine.name if vaccine else "",
        lot_number=f"LOT-{source_record_id}",
        created_at=now,
        updated_at=now,
    )


def catalogue_parameters_load() -> None:
    """The catalogue's rule parameters (campaign start, ages), which every re-check of the rules reads."""
    catalogue = json.loads(CATALOGUE_JSON.read_text(encoding="utf-8"))
    for parameter in catalogue["parameters"]:
        CatalogueParameter.objects.update_or_create(
            key=parameter["key"], defaults={"value": parameter["value"]}
        )


def world_build() -> World:
    w = World()
    catalogue_parameters_load()
    w.provinces["01"] = Province.objects.create(
        code="01", name="Thành phố Hà Nội", short_name="Hà Nội", name_key="ha noi"
    )
    w.provinces["79"] = Province.objects.create(
        code="79", name="Thành phố Hồ Chí Minh", short_name="Hồ Chí Minh", name_key="ho chi minh"
    )
    for code, name, prov in [
        ("00004", "Phường Ba Đình", "01"),
        ("00070", "Phường Hoàn Kiếm", "01"),
        ("26740", "Phường Sài Gòn", "79"),
    ]:
        w.communes[code] = Commune.objects.create(
            code=code,
            name=name,
            short_name=name,
            kind="phường",
            province=w.provinces[prov],
            name_key=fold(name),
        )
    for code, name, commune in [
        ("HN001", "Bệnh viện Bạch Mai", "00004"),
        ("HN002", "Trạm y tế Hoàn Kiếm", "00070"),
        ("HCM01", "Bệnh viện Chợ Rẫy", "26740"),
    ]:
        c = w.communes[commune]
        w.facilities[code] = Facility.objects.create(code=code, name=name, commune=c, province=c.province)
    w.vaccine = Vaccine.objects.create(
        code="AZ", name="AstraZeneca", manufacturer="AstraZeneca", primary_doses=2
    )

    spec = [
        ("dao_hn", "Nguyễn Thị Đào", "00004", "001190012345", "0912345601", [("HN001", 1), ("HN001", 2)]),
        ("binh_hn", "Trần Văn Bình", "00070", "001090054321", "0912345602", [("HN002", 1)]),
        (
            "hoa_traveller",
            "Phạm Thị Hoa",
            "26740",
            "079185001122",
            "0912345603",
            [("HN001", 1), ("HCM01", 2)],
        ),
        ("cuong_hcm", "Lê Văn Cường", "26740", "079090077777", "0912345604", [("HCM01", 1)]),
        ("dao_hcm", "Nguyễn Thị Đào", "26740", "079192008888", "0912345605", [("HCM01", 1), ("HCM01", 2)]),
    ]
    for key, name, commune, id_number, phone, doses in spec:
        person = person_make(full_name=name, commune=w.communes[commune], id_number=id_number, phone=phone)
        w.persons[key] = person
        for i, (facility, number) in enumerate(doses):
            dose_make(
                person=person,
                facility=w.facilities[facility],
                source_record_id=f"{key}-{i}",
                date=dt.date(2021, 8, 1) + dt.timedelta(days=60 * i),
                number=number,
                vaccine=w.vaccine,
            )

    for key, role, unit in [
        ("national", Role.NATIONAL, {}),
        ("admin", Role.ADMIN, {}),
        ("province_hn", Role.PROVINCE, {"province_code": "01"}),
        ("province_hcm", Role.PROVINCE, {"province_code": "79"}),
        ("commune_badinh", Role.COMMUNE, {"commune_code": "00004"}),
        ("commune_hoankiem", Role.COMMUNE, {"commune_code": "00070"}),
        ("facility_hn1", Role.FACILITY, {"facility_code": "HN001"}),
        ("facility_hcm", Role.FACILITY, {"facility_code": "HCM01"}),
        ("police_badinh", Role.POLICE, {"commune_code": "00004"}),
    ]:
        w.users[key] = user_create(
            username=key,
            password=TEST_PASSWORD,
            role=role,
            province_code=unit.get("province_code"),
            commune_code=unit.get("commune_code"),
            facility_code=unit.get("facility_code"),
        )

    # A correction with history, so the history table has something to show.
    record_change(
        entity="person",
        entity_id=w.persons["dao_hn"].pk,
        changes={"phone": ("0900000000", "0912345601")},
        source=ChangeSource(
            type=SourceType.CORRECTION, reason="Số điện thoại sai", actor_id=w.users["commune_badinh"].pk
        ),
    )
    return w


@pytest.fixture
def world(db: None) -> World:
    """The named world; import this fixture into a test module or conftest to use it."""
    return world_build()
