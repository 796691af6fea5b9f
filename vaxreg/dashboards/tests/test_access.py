"""Every role reads the dashboard of its own unit and those below it, through the page, both downloads and
the API, and nothing else: a unit beside or above answers 404 as a unit that does not exist, the police
403. The page's figures are the kept ones, and each unit below links to its own dashboard."""

import csv
import io
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.dashboards.services import rollups_rebuild
from vaxreg.testing.world import TEST_PASSWORD, World, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

UNITS = ["VN", "01", "79", "00004", "00070", "26740", "facility-HN001", "facility-HN002", "facility-HCM01"]
READS = {
    "national": set(UNITS),
    "admin": set(UNITS),
    "province_hn": {"01", "00004", "00070", "facility-HN001", "facility-HN002"},
    "province_hcm": {"79", "26740", "facility-HCM01"},
    "commune_badinh": {"00004", "facility-HN001"},
    "commune_hoankiem": {"00070", "facility-HN002"},
    "facility_hn1": {"facility-HN001"},
    "facility_hcm": {"facility-HCM01"},
    "police_badinh": set(),
}
HOME = {
    "national": "VN",
    "province_hn": "01",
    "commune_badinh": "00004",
    "facility_hn1": "facility-HN001",
}


def _client(world: World, user: str) -> Client:  # noqa: F811
    client = Client()
    assert client.login(username=user, password=TEST_PASSWORD)
    return client


@pytest.mark.parametrize("user", sorted(READS))
def test_each_role_reads_its_unit_and_those_below_it_only(world: World, user: str) -> None:  # noqa: F811
    rollups_rebuild()
    client = _client(world, user)
    for key in UNITS:
        allowed = key in READS[user]
        refused = 403 if user.startswith("police") else 404
        urls = [
            reverse("dashboards:unit", args=[key]),
            reverse("dashboards:export_csv", args=[key]),
            reverse("dashboards:export_xlsx", args=[key]),
            f"/api/dashboards/{key}",
        ]
        for url in urls:
            status = client.get(url).status_code
            assert status == (200 if allowed else refused), (user, url, status)


@pytest.mark.parametrize(("user", "key"), sorted(HOME.items()))
def test_the_progress_link_opens_the_users_own_unit(world: World, user: str, key: str) -> None:  # noqa: F811
    response = _client(world, user).get(reverse("dashboards:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards:unit", args=[key])


def test_the_province_page_shows_its_communes_with_links_and_figures(world: World) -> None:  # noqa: F811
    rollups_rebuild()
    response = _client(world, "province_hn").get(reverse("dashboards:unit", args=["01"]))
    page = response.content.decode()
    # Hà Nội: Đào and Bình live there (Hoa lives in Hồ Chí Minh); 3 doses were given at its facilities.
    assert 'data-figure="persons"><span class="figure">2<' in page
    assert 'data-figure="doses_total"><span class="figure">4<' in page
    assert reverse("dashboards:unit", args=["00004"]) in page
    assert reverse("dashboards:unit", args=["00070"]) in page
    assert "Phường Sài Gòn" not in page  # another province's commune


def test_the_units_below_sort_by_any_column(world: World) -> None:  # noqa: F811
    rollups_rebuild()
    client = _client(world, "national")
    ascending = client.get(reverse("dashboards:unit", args=["VN"]), {"sort": "persons", "order": "asc"})
    descending = client.get(reverse("dashboards:unit", args=["VN"]), {"sort": "persons", "order": "desc"})
    order = [ascending.content.decode().index(n) for n in ("Thành phố Hà Nội", "Thành phố Hồ Chí Minh")]
    # Hà Nội has 2 persons, Hồ Chí Minh 3: ascending puts Hà Nội first, descending last.
    assert order[0] < order[1]
    page = descending.content.decode()
    assert page.index("Thành phố Hà Nội") > page.index("Thành phố Hồ Chí Minh")
    assert 'aria-sort="descending"' in page


def test_downloads_and_api_give_the_pages_numbers(world: World) -> None:  # noqa: F811
    rollups_rebuild()
    client = _client(world, "national")
    api: Any = client.get("/api/dashboards/79").json()
    assert api["unit"]["key"] == "79"
    assert api["unit"]["parents"] == ["VN"]
    assert api["figures"]["persons"][""] == 3
    overview = next(t for t in api["tables"] if t["slug"] == "overview")
    assert overview["rows"][0][1] == 3
    units = next(t for t in api["tables"] if t["slug"] == "units")
    assert [row[1] for row in units["rows"]] == ["26740"]

    text = client.get(reverse("dashboards:export_csv", args=["79"])).getvalue().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    persons = [r for r in rows[1:] if r[2] == "Số người" or r[2] == "Persons"]
    assert persons and persons[0][3] == "3"

    xlsx = client.get(reverse("dashboards:export_xlsx", args=["79"])).getvalue()
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert {"overview", "units", "doses", "findings", "cases", "complaints", "imports"} <= set(
        book.sheetnames
    )
    assert book["units"].cell(row=2, column=2).value == "26740"


@pytest.mark.parametrize(
    ("user", "key"), [("national", "VN"), ("province_hn", "01"), ("commune_badinh", "00004")]
)
def test_a_dashboard_reads_a_few_queries_whatever_the_units(
    world: World,  # noqa: F811
    user: str,
    key: str,
    django_assert_max_num_queries: Any,
) -> None:
    rollups_rebuild()
    client = _client(world, user)
    client.get(reverse("dashboards:unit", args=[key]))  # the session and the catalogue warmed up
    # The kept figures of the unit, of the units below it, their names, the days: never the records.
    with django_assert_max_num_queries(12):
        assert client.get(reverse("dashboards:unit", args=[key])).status_code == 200
