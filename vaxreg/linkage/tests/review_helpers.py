"""The duplicates review's test scene: second records of world persons and the suspected pairs between them.

Pairs are stored as the linkage run stores them (levels of each comparison); one test runs the real engine.
"""

import datetime as dt
from dataclasses import dataclass

from vaxreg.core import clock
from vaxreg.linkage.models import SuspectedPair
from vaxreg.people.models import Person
from vaxreg.testing.world import World, dose_make, person_make

SAME_ID_LEVELS = {
    "surname": "same",
    "given_names": "diacritics",
    "birth_date": "exact",
    "id_number": "same",
    "household": "phone_and_commune",
    "gender": "same",
}
NO_ID_LEVELS = {
    "surname": "same",
    "given_names": "exact",
    "birth_date": "swapped",
    "id_number": "null",
    "household": "phone",
    "gender": "same",
}


def pair_make(
    a: Person, b: Person, *, probability: float, levels: dict[str, str] | None = None
) -> SuspectedPair:
    first, second = sorted((a, b), key=lambda p: p.pk)
    now = clock.now()
    return SuspectedPair.objects.create(
        person_a=first,
        person_b=second,
        probability=probability,
        match_weight=10.0,
        evidence={"levels": levels or SAME_ID_LEVELS, "weights": {}},
        model_version=1,
        fingerprint="test",
        created_at=now,
        scored_at=now,
    )


@dataclass
class Scene:
    dao_twin: Person
    hoa_twin: Person
    binh_twin: Person
    dao: SuspectedPair  # Đào of Ba Đình twice: Ba Đình's pair
    hoa: SuspectedPair  # Hoa (lives in HCM, dose in Ba Đình) and her record in Ba Đình: not HCM's
    binh: SuspectedPair  # Bình across Hoàn Kiếm and Ba Đình: both stations see both records
    namesakes: SuspectedPair  # the two Đào of Hà Nội and HCM: only the ministry sees both


def _dose(person: Person, w: World, facility: str, ref: str, number: int) -> None:
    dose_make(
        person=person,
        facility=w.facilities[facility],
        source_record_id=ref,
        date=dt.date(2022, 3, 1),
        number=number,
        vaccine=w.vaccine,
    )


def scene_build(w: World) -> Scene:
    ba_dinh = w.communes["00004"]
    dao_twin = person_make(
        full_name="Nguyen Thi Dao", commune=ba_dinh, id_number="001190012345", phone="0912345601"
    )
    _dose(dao_twin, w, "HN001", "dao-twin-3", 3)
    hoa_twin = person_make(full_name="Phạm Thị Hoa", commune=ba_dinh, phone="0912345603")
    _dose(hoa_twin, w, "HN001", "hoa-twin-3", 3)
    # Bình moved from Hoàn Kiếm to Ba Đình: his new record lives in Ba Đình with a dose at Hoàn Kiếm's
    # station, and his first record got a dose at Ba Đình's hospital.
    binh_twin = person_make(
        full_name="Tran Van Binh", commune=ba_dinh, id_number="001090054321", phone="0912345602"
    )
    _dose(binh_twin, w, "HN002", "binh-twin-2", 2)
    _dose(w.persons["binh_hn"], w, "HN001", "binh-3", 3)
    return Scene(
        dao_twin=dao_twin,
        hoa_twin=hoa_twin,
        binh_twin=binh_twin,
        dao=pair_make(w.persons["dao_hn"], dao_twin, probability=0.999),
        hoa=pair_make(w.persons["hoa_traveller"], hoa_twin, probability=0.97, levels=NO_ID_LEVELS),
        binh=pair_make(w.persons["binh_hn"], binh_twin, probability=0.995),
        namesakes=pair_make(w.persons["dao_hn"], w.persons["dao_hcm"], probability=0.91, levels=NO_ID_LEVELS),
    )


# Which pairs each user of the world may review (both persons in its reach); the others it may not see.
REACH = {
    "national": {"dao", "hoa", "binh", "namesakes"},
    "province_hn": {"dao", "hoa", "binh"},
    "province_hcm": set(),
    "commune_badinh": {"dao", "hoa", "binh"},
    "commune_hoankiem": {"binh"},
}
# Roles without the review: refused whatever the pair.
NOT_REVIEWERS = ("admin", "facility_hn1", "facility_hcm", "police_badinh")
