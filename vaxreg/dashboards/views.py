"""The dashboard pages: one unit's figures, the units below it, and their download. Thin: the unit comes
from ``access_unit_by_key`` (a 404 outside the reader's unit), the tables from ``sections``."""

import tempfile
from dataclasses import dataclass
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.http import require_GET, require_POST

from vaxreg.accounts.permissions import Capability, capability_require, requires, user_can
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages
from vaxreg.core.pages import choices_set, form_action
from vaxreg.core.tables import CONTENT_TYPES, write_table
from vaxreg.dashboards.campaigns import (
    access_campaign_by_id,
    campaign_close,
    campaign_create,
    campaign_units_for_user,
    campaign_view,
    campaigns_for_user,
)
from vaxreg.dashboards.charts import CHART_JS, bars_chart, campaign_chart
from vaxreg.dashboards.figures import LABELS
from vaxreg.dashboards.forms import CampaignCloseForm, CampaignForm
from vaxreg.dashboards.models import Campaign, Level, Target
from vaxreg.dashboards.sections import CHILD_SORT_KEYS, Section, campaign_sections, children_section, sections
from vaxreg.dashboards.selectors import (
    Figures,
    Unit,
    access_unit_by_key,
    home_unit_key,
    unit_children,
    unit_figures,
    unit_trend,
)


def _worklist_link(request: HttpRequest, unit: Unit) -> Any:
    """Links into the verification worklist where it shows exactly this unit's cases: the reader's own
    unit (the worklist is the reader's whole unit), or one commune of it (the worklist's commune filter)."""
    user: Any = request.user
    if not user_can(user, Capability.CASE_READ) or unit.level == Level.FACILITY:
        return None  # a facility's worklist is its persons' cases, not the figures of its doses
    url = reverse("verification:worklist")
    if unit.key == home_unit_key(user):
        return lambda params: f"{url}?{urlencode(params)}"
    if unit.level == Level.COMMUNE:
        return lambda params: f"{url}?{urlencode({**params, 'commune': unit.code})}"
    return None


def dashboard_sections(
    request: HttpRequest,
    unit: Unit,
    *,
    figures: Figures | None = None,
    sort: str = "",
    descending: bool = False,
) -> list[Section]:
    figures = figures if figures is not None else unit_figures(unit)
    tables = sections(unit, figures, worklist_link=_worklist_link(request, unit))
    children = unit_children(unit)
    if children:
        below = children_section(unit, children, sort=sort, descending=descending)
        below.chart = bars_chart(below, column=4, title=gettext("Share verified"), percent=True)
        tables.insert(1, below)
    findings = next(t for t in tables if t.slug == "findings")
    findings.chart = bars_chart(findings, column=2, title=findings.headers[2])
    return tables


@require_GET
@requires(Capability.DASHBOARD_READ)
def home_view(request: HttpRequest) -> HttpResponse:
    key = home_unit_key(request.user)
    if key is None:
        raise Http404
    return redirect("dashboards:unit", key)


@require_GET
@requires(Capability.DASHBOARD_READ)
def unit_view(request: HttpRequest, key: str) -> HttpResponse:
    unit = access_unit_by_key(user=request.user, key=key)
    sort = request.GET.get("sort", "")
    sort = sort if sort in CHILD_SORT_KEYS else ""
    descending = request.GET.get("order") == "desc"
    figures = unit_figures(unit)
    tables = dashboard_sections(request, unit, figures=figures, sort=sort, descending=descending)
    units_table = next((t for t in tables if t.sortable), None)
    return render(
        request,
        "dashboards/unit.html",
        {
            "unit": unit,
            "figures": figures,
            "tables": tables,
            "tiles": _tiles(figures),
            "sort_headers": _sort_headers(units_table, sort, descending) if units_table else [],
            "trend": unit_trend(unit, days=30),
            "at": clock.now(),
            "chart_js": CHART_JS,
        },
    )


@dataclass(frozen=True)
class Tile:
    figure: str
    text: str
    label: str
    note: str = ""


def _tiles(figures: Figures) -> list[Tile]:
    def count(name: str) -> str:
        return number_format(figures.value(name), force_grouping=True)

    def share(name: str) -> str:
        value = figures.share(name)
        return "–" if value is None else f"{number_format(value * 100, 1)} %"

    persons = count("persons")
    return [
        Tile("persons", persons, str(LABELS["persons"])),
        Tile("complete", share("complete"), str(LABELS["complete"]), count("complete")),
        Tile("verified", share("verified"), str(LABELS["verified"]), count("verified")),
        *(
            Tile(name, count(name), str(LABELS[name]))
            for name in (
                "doses_total",
                "findings_open",
                "cases_active",
                "complaints_open",
                "complaints_escalated",
            )
        ),
    ]


@dataclass(frozen=True)
class SortHeader:
    label: str
    href: str
    aria: str


def _sort_headers(table: Section, sort: str, descending: bool) -> list[SortHeader]:
    headers = []
    for label, key in zip(table.headers, CHILD_SORT_KEYS, strict=True):
        current = key == sort
        order = "desc" if current and not descending else "asc"
        aria = ("descending" if descending else "ascending") if current else ""
        headers.append(SortHeader(label, f"?{urlencode({'sort': key, 'order': order})}#units", aria))
    return headers


def _long_rows(tables: list[Section]) -> list[list[Any]]:
    """Every cell of every table as one row: table, row, column, value (the CSV, which has one sheet)."""
    rows = []
    for table in tables:
        for row in table.rows:
            label = row[0].value
            for header, cell in zip(table.headers[1:], row[1:], strict=True):
                rows.append([table.title, label, header, cell.value])
    return rows


@require_GET
@requires(Capability.DASHBOARD_READ)
def unit_export(request: HttpRequest, key: str, fmt: str) -> FileResponse:
    unit = access_unit_by_key(user=request.user, key=key)
    return _tables_download(dashboard_sections(request, unit), name=f"tien-do-{unit.key}", fmt=fmt)


# The columns of a CSV download, in both languages (a file is read by anyone it is sent to).
LONG_HEADERS = (gettext_noop("Table"), gettext_noop("Row"), gettext_noop("Column"), gettext_noop("Value"))


def _tables_download(tables: list[Section], *, name: str, fmt: str) -> FileResponse:
    """The tables as one .xlsx (a sheet each) or one CSV (a row per cell: table, row, column, value)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it once sent
    if fmt == "xlsx":
        first, *rest = tables
        write_table(
            first.headers,
            ([c.value for c in row] for row in first.rows),
            fmt="xlsx",
            out=out,
            sheet=first.slug,
            more_sheets={t.slug: [t.headers, *([c.value for c in row] for row in t.rows)] for t in rest},
        )
    else:
        headers = [both_languages(h) for h in LONG_HEADERS]
        write_table(headers, _long_rows(tables), fmt="csv", out=out)
    out.seek(0)
    filename = f"{name}-{clock.today():%Y%m%d}.{fmt}"
    response = FileResponse(out, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt])
    response["Cache-Control"] = "no-store"
    return response


# -- campaigns ---------------------------------------------------------------------------------------------


def _campaigns_page(
    request: HttpRequest, form: CampaignForm | None = None, status: int = 200
) -> HttpResponse:
    user: Any = request.user
    may_manage = user_can(user, Capability.CAMPAIGN_MANAGE)
    if may_manage and form is None:
        form = CampaignForm(initial={"start": clock.today(), "target": Target.VERIFIED_SHARE, "goal": 95})
    if form is not None:
        choices_set(form, "unit_key", campaign_units_for_user(user))
    rows = [
        (campaign, unit, campaign_view(campaign, unit)) for campaign, unit in campaigns_for_user(user=user)
    ]
    return render(
        request,
        "dashboards/campaigns.html",
        {"rows": rows, "form": form if may_manage else None},
        status=status,
    )


@requires(Capability.DASHBOARD_READ)
def campaigns_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _campaigns_page(request)
    capability_require(request.user, Capability.CAMPAIGN_MANAGE)
    form = CampaignForm(request.POST)
    choices_set(form, "unit_key", campaign_units_for_user(request.user))
    created: list[Campaign] = []

    def act(data: dict[str, Any]) -> str:
        created.append(campaign_create(actor=request.user, **data))
        return gettext("Campaign “%(name)s” started.") % {"name": created[0].name}

    return form_action(
        request,
        form,
        act,
        done=lambda: redirect("dashboards:campaign", created[0].pk),
        again=lambda status: _campaigns_page(request, form, status),
    )


def _campaign_page(
    request: HttpRequest, campaign_id: int, close_form: CampaignCloseForm | None = None, status: int = 200
) -> HttpResponse:
    campaign, unit = access_campaign_by_id(user=request.user, campaign_id=campaign_id)
    view = campaign_view(campaign, unit)
    tables = campaign_sections(view)
    trend = next(t for t in tables if t.slug == "trend")
    trend.chart = campaign_chart(view)
    may_close = campaign.closed_at is None and user_can(request.user, Capability.CAMPAIGN_MANAGE)
    context = {
        "view": view,
        "tables": tables,
        "chart_js": CHART_JS,
        # A refused close shows its form and why, also once the campaign is closed.
        "close_form": close_form if close_form is not None else (CampaignCloseForm() if may_close else None),
    }
    return render(request, "dashboards/campaign.html", context, status=status)


@require_GET
@requires(Capability.DASHBOARD_READ)
def campaign_view_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _campaign_page(request, campaign_id)


@require_POST
@requires(Capability.CAMPAIGN_MANAGE)
def campaign_close_view(request: HttpRequest, campaign_id: int) -> HttpResponse:
    form = CampaignCloseForm(request.POST)

    def act(data: dict[str, Any]) -> str:
        closed = campaign_close(actor=request.user, campaign_id=campaign_id, reason=data["reason"])
        return gettext("Campaign “%(name)s” closed.") % {"name": closed.name}

    return form_action(
        request,
        form,
        act,
        done=lambda: redirect("dashboards:campaign", campaign_id),
        again=lambda status: _campaign_page(request, campaign_id, form, status),
    )


@require_GET
@requires(Capability.DASHBOARD_READ)
def campaign_export(request: HttpRequest, campaign_id: int, fmt: str) -> FileResponse:
    campaign, unit = access_campaign_by_id(user=request.user, campaign_id=campaign_id)
    return _tables_download(
        campaign_sections(campaign_view(campaign, unit)), name=f"chien-dich-{campaign.pk}", fmt=fmt
    )
