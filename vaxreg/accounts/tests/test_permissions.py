"""The permission policy as users meet it: refusals say why in both languages, and the API refuses a role
before it reads the role's input."""

import pytest
from django.test import Client

from vaxreg.accounts.permissions import Capability, CapabilityDenied, capability_require, user_can
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.services import import_batch_create
from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db


def client_for(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def test_a_role_that_may_not_act_is_refused_before_its_input_is_read(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    complaint = complaint_submit(
        intake=Intake(category=3, full_name="Nguyễn Thị Đào", phone="0912345601", facility_code="HN001")
    )
    url = f"/api/complaints/{complaint.pk}/defer"
    for reader in ("national", "police_badinh"):
        refused = client_for(world, reader).post(url, {}, content_type="application/json")
        assert refused.status_code == 403, reader
        body = refused.json()
        assert body["code"] == "forbidden"
        assert (body["message_vi"], body["message_en"]) == (
            "Vai trò của bạn không xử lý phản ánh này.",
            "Your role does not handle this complaint.",
        )
    # The facility that handles it reaches the input checks.
    handler = client_for(world, "facility_hn1").post(url, {}, content_type="application/json")
    assert handler.status_code == 422


def test_the_api_asks_a_visitor_without_a_login_to_log_in_first(world):
    assert Client().post("/api/cases/assign", {}, content_type="application/json").status_code == 401


def test_a_page_sends_a_visitor_without_a_login_to_the_login_page(world):
    response = Client().get("/imports/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/imports/")


def test_a_service_refuses_a_role_without_the_capability(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(CapabilityDenied) as refused:
        import_batch_create(file_name="x.csv", content=b"a,b\n", uploaded_by=world.users["commune_badinh"])
    assert refused.value.message_vi == "Vai trò của bạn không được nhập tệp dữ liệu tiêm."
    assert refused.value.message_en == "Your role may not import dose files."
    assert not ImportBatch.objects.exists()
    capability_require(world.users["province_hn"], Capability.IMPORT_RUN)  # a province imports


def test_a_deactivated_account_may_do_nothing_but_what_is_public(world):
    user = world.users["national"]
    user.is_active = False
    assert not user_can(user, Capability.STAFF)
    assert user_can(user, Capability.PUBLIC)
    assert not user_can(None, Capability.PERSON_READ)


NAVIGATION = {
    "/verification/": Capability.CASE_READ,
    "/complaints/": Capability.COMPLAINT_READ,
    "/imports/": Capability.IMPORT_RUN,
    "/verification/police/": Capability.CASE_POLICE,
    "/sign-off/": Capability.SIGN_OFF,
}


def test_the_navigation_shows_each_role_the_pages_it_may_open(world):
    for key, user in world.users.items():
        page = client_for(world, key).get("/").content.decode()
        nav = page[page.index("<nav") : page.index("</nav>")]
        shown = {href for href in NAVIGATION if f'href="{href}"' in nav}
        assert shown == {href for href, needed in NAVIGATION.items() if user_can(user, needed)}, key
