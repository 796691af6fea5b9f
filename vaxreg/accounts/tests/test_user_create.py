import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.services import UserCreateError, user_create
from vaxreg.core.models import AuditEvent
from vaxreg.testing.world import TEST_PASSWORD

pytestmark = pytest.mark.django_db


class TestUserCreate:
    def test_commune_user_gets_the_province_of_its_commune(self, world):
        user = user_create(
            username="badinh2", password=TEST_PASSWORD, role=Role.COMMUNE, commune_code="00004"
        )
        assert (user.province_id, user.commune_id, user.facility_id) == ("01", "00004", None)

    def test_facility_user_gets_the_province_of_its_facility(self, world):
        user = user_create(
            username="choray", password=TEST_PASSWORD, role=Role.FACILITY, facility_code="HCM01"
        )
        assert user.facility.code == "HCM01"
        assert user.province_id == "79"

    def test_police_work_in_a_commune(self, world):
        user = user_create(username="ca-saigon", password=TEST_PASSWORD, role="police", commune_code="26740")
        assert (user.role, user.commune_id, user.province_id) == (Role.POLICE, "26740", "79")

    def test_creation_is_audited_with_the_actor(self, world):
        admin = world.users["admin"]
        user = user_create(
            username="hcm-cdc", password=TEST_PASSWORD, role=Role.PROVINCE, province_code="79", actor=admin
        )
        event = AuditEvent.objects.get(action=AuditEvent.Action.USER_CREATED, object_id=str(user.pk))
        assert event.actor == admin
        assert event.detail["role"] == "province"
        assert event.detail["province"] == "79"

    def test_the_password_works_for_login(self, world):
        user_create(username="nhanvien", password=TEST_PASSWORD, role=Role.NATIONAL)
        assert authenticate(username="nhanvien", password=TEST_PASSWORD) is not None

    @pytest.mark.parametrize(
        ("role", "unit"),
        [
            (Role.PROVINCE, {}),
            (Role.COMMUNE, {"province_code": "01"}),
            (Role.FACILITY, {"commune_code": "00004"}),
            (Role.POLICE, {}),
            (Role.NATIONAL, {"province_code": "01"}),
            (Role.PROVINCE, {"province_code": "01", "facility_code": "HN001"}),
        ],
    )
    def test_a_role_without_its_unit_is_refused(self, world, role, unit):
        with pytest.raises(UserCreateError) as err:
            user_create(username="x-user", password=TEST_PASSWORD, role=role, **unit)
        assert err.value.message_vi and err.value.message_en
        assert not User.objects.filter(username="x-user").exists()

    def test_unknown_unit_code_is_refused(self, world):
        with pytest.raises(UserCreateError, match="99999"):
            user_create(username="nowhere", password=TEST_PASSWORD, role=Role.COMMUNE, commune_code="99999")

    def test_taken_username_is_refused_whatever_the_case(self, world):
        with pytest.raises(UserCreateError, match="taken"):
            user_create(username="NATIONAL", password=TEST_PASSWORD, role=Role.NATIONAL)

    def test_weak_password_is_refused(self, world):
        with pytest.raises(UserCreateError, match="weak"):
            user_create(username="weak", password="123", role=Role.NATIONAL)

    def test_unknown_role_is_refused(self, world):
        with pytest.raises(UserCreateError, match="role"):
            user_create(username="boss", password=TEST_PASSWORD, role="king")


class TestCreateUserCommand:
    def test_prints_a_generated_password_that_works(self, world, capsys):
        call_command("createuser", "--username", "hoankiem", "--role", "commune", "--commune", "00070")
        out = capsys.readouterr().out
        password = out.split("Password:")[1].strip()
        assert len(password) >= 16
        user = authenticate(username="hoankiem", password=password)
        assert user is not None and user.commune_id == "00070"

    def test_given_password_is_not_printed(self, world, capsys):
        call_command("createuser", "--username", "bo", "--role", "national", "--password", TEST_PASSWORD)
        out = capsys.readouterr().out
        assert TEST_PASSWORD not in out
        assert "bo" in out

    def test_missing_unit_is_a_bilingual_error(self, world):
        with pytest.raises(CommandError) as err:
            call_command("createuser", "--username", "f", "--role", "facility")
        assert "cần đúng một mã cơ sở tiêm" in str(err.value)
        assert "needs exactly one facility code" in str(err.value)
