import pytest

from vaxreg.core.models import ChangeRecord
from vaxreg.people.models import Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.verification.models import CaseState, ContactAttempt, VerificationCase
from vaxreg.verification.selectors import CaseNotVisible, access_case_by_id, cases_for_user
from vaxreg.verification.services import (
    CaseActionRefused,
    case_escalate,
    case_mark_unverifiable,
    case_person_correct,
    case_police_result,
    case_resolve,
    cases_assign,
    cases_sync,
    contact_attempt_log,
)


def _break(world, key, **values):
    person = world.persons[key]
    Person.objects.filter(pk=person.pk).update(**values)
    quality_check_persons(person_ids=[person.pk])
    cases_sync(person_ids=[person.pk])
    return VerificationCase.objects.get(person=person)


def test_a_case_opens_for_blocking_findings_in_the_commune_of_residence_once(world):
    case = _break(world, "hoa_traveller", gender="M")  # lives in Sài Gòn, vaccinated in Hà Nội too
    assert case.state == CaseState.OPEN
    assert case.commune_id == "26740" and case.province_id == "79"
    assert "ID_GENDER_MISMATCH" in case.codes
    assert cases_sync(person_ids=[case.person_id]).opened == 0
    assert VerificationCase.objects.count() == 1


def test_without_a_commune_of_residence_the_case_goes_where_the_person_was_vaccinated(world):
    case = _break(world, "binh_hn", gender="F", commune=None)
    assert case.commune_id == "00070"  # HN002, the facility of the dose


def test_clean_persons_get_no_case_and_an_untouched_case_closes_when_its_cause_is_fixed_elsewhere(world):
    assert cases_sync(person_ids=[p.pk for p in world.persons.values()]).opened == 0
    case = _break(world, "dao_hn", gender="M")
    Person.objects.filter(pk=case.person_id).update(gender="F")
    quality_check_persons(person_ids=[case.person_id])
    assert cases_sync(person_ids=[case.person_id]).resolved == 1
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED and case.closed_at is not None


def test_the_station_corrects_in_place_and_resolves(world):
    station = world.users["commune_badinh"]
    case = _break(world, "dao_hn", gender="M")
    with pytest.raises(CaseActionRefused, match="Blocking findings are left"):
        case_resolve(actor=station, case_id=case.pk)
    result = case_person_correct(
        actor=station,
        case_id=case.pk,
        expected_version=1,
        changes={"gender": "F"},
        reason="Gọi điện xác nhận",
    )
    assert result.check.closed["ID_GENDER_MISMATCH"] == 1
    case.refresh_from_db()
    assert (case.state, case.codes) == (CaseState.IN_PROGRESS, [])
    case_resolve(actor=station, case_id=case.pk)
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert Person.objects.get(pk=case.person_id).verification_state == "verified"
    steps = list(
        ChangeRecord.objects.filter(
            entity="person", entity_id=case.person_id, source_id=str(case.pk)
        ).values_list("field", "new_value")
    )
    assert steps == [
        ("verification_case.state", "open"),
        ("gender", "F"),
        ("verification_case.state", "in_progress"),
        ("verification_case.state", "resolved"),
    ]


def test_escalation_police_match_and_not_found(world):
    station, police = world.users["commune_badinh"], world.users["police_badinh"]
    case = _break(world, "dao_hn", gender="M")
    assert not cases_for_user(user=police).exists()  # not escalated yet: the police sees nothing
    contact_attempt_log(
        actor=station, case_id=case.pk, channel="phone", outcome="no_answer", note="Gọi 3 lần"
    )
    assert ContactAttempt.objects.filter(case=case).count() == 1
    case_escalate(actor=station, case_id=case.pk, reason="Không liên lạc được")
    assert list(cases_for_user(user=police)) == [case]
    with pytest.raises(CaseActionRefused):
        case_police_result(actor=station, case_id=case.pk, result="MATCH")
    case_police_result(
        actor=police, case_id=case.pk, result="MISMATCH",
        verified={"full_name": "Nguyễn Thị Đào", "gender": "F", "birth_year": 1990, "id_number": "001190012345"},
    )  # fmt: skip
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED and case.police_result == "MISMATCH"
    gender_change = ChangeRecord.objects.get(entity="person", entity_id=case.person_id, field="gender")
    assert (gender_change.source_type, gender_change.actor) == ("police", police)

    other = _break(world, "binh_hn", gender="F")
    case_escalate(actor=world.users["commune_hoankiem"], case_id=other.pk, reason="Cần CSDL dân cư")
    with pytest.raises(CaseNotVisible):  # Hoàn Kiếm's case is not Ba Đình police's
        case_police_result(actor=police, case_id=other.pk, result="NOT_FOUND")


def test_not_found_then_unverifiable_needs_a_reason(world):
    station, police = world.users["commune_badinh"], world.users["police_badinh"]
    case = _break(world, "dao_hn", gender="M")
    case_escalate(actor=station, case_id=case.pk, reason="Cần CSDL dân cư")
    case_police_result(actor=police, case_id=case.pk, result="NOT_FOUND")
    with pytest.raises(CaseActionRefused):
        case_mark_unverifiable(actor=station, case_id=case.pk, reason="ngắn")
    case_mark_unverifiable(actor=station, case_id=case.pk, reason="Không có trong CSDL dân cư, đã chuyển đi")
    assert Person.objects.get(pk=case.person_id).verification_state == "unverifiable"
    with pytest.raises(CaseActionRefused):
        case_escalate(actor=station, case_id=case.pk, reason="lại lần nữa")


def test_other_units_can_neither_see_nor_act(world):
    case = _break(world, "dao_hn", gender="M")
    for key in ("commune_hoankiem", "province_hcm", "facility_hcm", "police_badinh"):
        with pytest.raises(CaseNotVisible):
            access_case_by_id(user=world.users[key], case_id=case.pk)
    for key in ("national", "province_hn", "facility_hn1", "commune_badinh"):
        assert access_case_by_id(user=world.users[key], case_id=case.pk) == case
    with pytest.raises(CaseActionRefused):  # the province reads, the station acts
        case_escalate(actor=world.users["province_hn"], case_id=case.pk, reason="không được")


def test_bulk_assignment_only_to_staff_of_the_same_station(world):
    from vaxreg.accounts.services import user_create

    station = world.users["commune_badinh"]
    worker = user_create(
        username="yta2", password="x-very-long-password-1", role="commune", commune_code="00004"
    )
    cases = [_break(world, "dao_hn", gender="M"), _break(world, "hoa_traveller", gender="M")]
    assert cases_assign(actor=station, case_ids=[cases[0].pk], assignee_id=worker.pk) == 1
    with pytest.raises(CaseActionRefused):
        cases_assign(actor=station, case_ids=[cases[0].pk], assignee_id=world.users["commune_hoankiem"].pk)
    with pytest.raises(CaseNotVisible):  # Sài Gòn's case
        cases_assign(actor=station, case_ids=[cases[1].pk], assignee_id=worker.pk)
