"""The main pages read as they did: what a reader sees, in Vietnamese and in English, kept in golden files.

A change of wording, a label that falls back to English, a lost translation or a heading that disappears
shows up here as a diff of plain text. Numbers are written as ``0`` (ids, counts, dates and times differ
between databases and runs); everything else must match exactly.

After a deliberate change of a page's words, write the golden files again and review their diff:
``uv run pytest vaxreg/web/tests/test_page_text.py --page-text-update``.
"""

import datetime as dt
import difflib
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.core import clock
from vaxreg.dashboards.services import rollups_rebuild
from vaxreg.people.models import Gender, Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World
from vaxreg.verification.models import VerificationCase
from vaxreg.verification.services import case_escalate, cases_sync

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "page_text"
NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 in Hà Nội

# (golden name, user of the test world, "citizen" for Đào's own lookup session or None for a visitor, path;
# {case}, {person}, {complaint} filled in)
PAGES = [
    ("login", None, "/login/"),
    ("home_national", "national", "/"),
    ("home_commune", "commune_badinh", "/"),
    ("home_police", "police_badinh", "/"),
    ("search", "commune_badinh", "/search/?q=Nguy%E1%BB%85n"),
    ("person", "commune_badinh", "/people/{person}/"),
    ("imports", "facility_hn1", "/imports/"),
    ("sign_off", "facility_hn1", "/sign-off/"),
    ("worklist", "commune_badinh", "/verification/"),
    ("case", "commune_badinh", "/verification/cases/{case}/"),
    ("police_cases", "police_badinh", "/verification/police/"),
    ("police_case", "police_badinh", "/verification/police/cases/{case}/"),
    ("inbox", "facility_hn1", "/complaints/"),
    ("complaint", "facility_hn1", "/complaints/{complaint}/"),
    ("figures", "province_hn", "/complaints/figures/"),
    ("dashboard_province", "province_hn", "/dashboards/01/"),
    ("dashboard_commune", "commune_badinh", "/dashboards/00004/"),
    ("campaigns", "province_hn", "/dashboards/campaigns/"),
    ("second_factor", "commune_badinh", "/account/second-factor/"),
    ("citizen_record", "citizen", "/tra-cuu/ho-so/"),
    ("certificates_mine", "citizen", "/certificates/mine/"),
    ("public_complaint_form", None, "/phan-anh/"),
    ("public_complaint_track", None, "/phan-anh/theo-doi/"),
    ("public_verify", None, "/certificates/verify/"),
    ("citizen_lookup", None, "/tra-cuu/"),
]
LANGUAGES = ["vi", "en"]
TRACKING_CODE = re.compile(r"\b[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}\b")


class _Reader(HTMLParser):
    """Collects what a reader meets: text, and the words carried by attributes (labels, placeholders)."""

    SKIP = {"script", "style", "template"}
    WORD_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
            return
        values = dict(attrs)
        for name in self.WORD_ATTRIBUTES:
            if values.get(name):
                self.parts.append(f"[{name}: {values[name]}]")
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(f"[button: {values['value']}]")
        if tag in (
            "p",
            "div",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "section",
            "table",
            "form",
            "br",
            "dt",
            "dd",
        ):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def reader_text(content: str) -> str:
    reader = _Reader()
    reader.feed(content)
    lines = (" ".join(line.split()) for line in html.unescape("".join(reader.parts)).split("\n"))
    text = "\n".join(line for line in lines if line)
    text = TRACKING_CODE.sub("XXXX-XXXX-XXXX-XXXX", text)  # drawn at random for each complaint
    return re.sub(r"\d+", "0", text) + "\n"


@pytest.fixture
def scene(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Cases for every world person (one escalated to the police of Ba Đình) and a complaint to HN001."""
    monkeypatch.setattr(clock, "now", lambda: NOW - dt.timedelta(hours=10))
    monkeypatch.setattr(clock, "today", lambda: timezone.localdate(NOW))
    Person.objects.filter(pk=world.persons["dao_hn"].pk).update(gender=Gender.MALE)
    person_ids = [p.pk for p in world.persons.values()]
    quality_check_persons(person_ids=person_ids)
    cases_sync(person_ids=person_ids)
    case = VerificationCase.objects.get(person=world.persons["dao_hn"])
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Không liên lạc được")
    complaint = complaint_submit(
        intake=Intake(
            category=3,
            full_name="Nguyễn Thị Đào",
            phone="0912345601",
            birth_date="15/01/1990",
            gender="F",
            id_number="001190012345",
            facility_code="HN001",
            description="Tôi đã tiêm mũi 2 nhưng hệ thống chưa có.",
        )
    )
    rollups_rebuild()  # the dashboards' figures
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return {"case": case.pk, "person": world.persons["dao_hn"].pk, "complaint": complaint.pk}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_main_pages_read_as_before(
    world: World, scene: dict[str, int], language: str, request: pytest.FixtureRequest
) -> None:
    update = request.config.getoption("--page-text-update")
    differing = []
    for name, user_key, path in PAGES:
        client = Client()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        if user_key == "citizen":
            session = client.session
            session["citizen_person_id"] = scene["person"]
            session["citizen_until"] = (NOW + dt.timedelta(minutes=15)).timestamp()
            session.save()
        elif user_key:
            client.force_login(world.users[user_key])
        response = client.get(path.format(**scene))
        assert response.status_code == 200, f"{path} as {user_key}: {response.status_code}"
        text = reader_text(response.content.decode())
        golden = GOLDEN / f"{name}.{language}.txt"
        if update:
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(text, encoding="utf-8")
            continue
        before = golden.read_text(encoding="utf-8") if golden.exists() else ""
        if before != text:
            diff = difflib.unified_diff(before.splitlines(), text.splitlines(), "before", "now", lineterm="")
            differing.append(f"{name}.{language}:\n" + "\n".join(list(diff)[:40]))
    assert not differing, (
        "These pages no longer read as their golden text (write them again with --page-text-update and "
        "review `git diff vaxreg/web/tests/page_text`):\n\n" + "\n\n".join(differing)
    )
