"""The dashboards over REST: one unit's figures as JSON, the same tables its page and its download show.

``GET /api/campaigns`` and ``/api/campaigns/{id}``: the campaigns the user may read, with the figures
of their pages. ``GET /api/dashboards/{unit}``: ``VN`` for the nation, a 2-digit province code, a 5-digit commune code, or
``facility-<code>``; 404 for a unit outside the user's own (or none), 403 for a role without dashboards.
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from vaxreg.accounts.permissions import Capability, operation_requires
from vaxreg.core import clock
from vaxreg.core.api_schema import RecordId, errors
from vaxreg.dashboards.campaigns import access_campaign_by_id, campaign_view, campaigns_for_user
from vaxreg.dashboards.sections import campaign_sections
from vaxreg.dashboards.selectors import Unit, access_unit_by_key, unit_figures
from vaxreg.dashboards.views import dashboard_sections

router = Router(tags=["dashboards"])


class UnitOut(Schema):
    key: str
    level: str
    code: str
    name: str
    parents: list[str]  # the keys of the units above, the nation first


class TableOut(Schema):
    slug: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


class DashboardOut(Schema):
    unit: UnitOut
    at: dt.datetime
    figures: dict[str, dict[str, int]]  # figure → key ("" for a keyless figure) → value
    tables: list[TableOut]


def _unit_out(unit: Unit) -> UnitOut:
    return UnitOut(
        key=unit.key, level=unit.level, code=unit.code, name=unit.name, parents=[p.key for p in unit.parents]
    )


@router.get(
    "/{unit}",
    response={200: DashboardOut, **errors(403, 404)},
    summary="One unit's progress figures (the unit's own or one below it)",
)
@operation_requires(Capability.DASHBOARD_READ)
def dashboard(request: HttpRequest, unit: str) -> DashboardOut:
    found = access_unit_by_key(user=request.user, key=unit)
    figures = unit_figures(found)
    return DashboardOut(
        unit=_unit_out(found),
        at=clock.now(),
        figures=figures.values,
        tables=[TableOut(**t.as_dict()) for t in dashboard_sections(request, found, figures=figures)],
    )


campaigns_router = Router(tags=["dashboards"])


class CampaignOut(Schema):
    id: int
    name: str
    unit: UnitOut
    target: str
    goal: float
    start: dt.date
    deadline: dt.date
    closed_at: dt.datetime | None
    now: float | None  # the target's value today (a share in %, or a count)
    pace_per_day: float | None  # over the last 7 days, towards the goal
    reached_on: dt.date | None
    projected_finish: dt.date | None  # None: not at this pace (or reached)
    on_time: bool
    units_behind: list[str]  # the keys of the units below that will be late, the furthest first
    tables: list[TableOut]


def _campaign_out(campaign: Any, unit: Any) -> CampaignOut:
    view = campaign_view(campaign, unit)
    return CampaignOut(
        id=campaign.pk,
        name=campaign.name,
        unit=_unit_out(unit),
        target=campaign.target,
        goal=float(campaign.goal),
        start=campaign.start,
        deadline=campaign.deadline,
        closed_at=campaign.closed_at,
        now=view.projection.value,
        pace_per_day=view.projection.pace,
        reached_on=view.projection.reached_on,
        projected_finish=view.projection.projected,
        on_time=view.on_time,
        units_behind=[b.key for b in view.behind],
        tables=[TableOut(**t.as_dict()) for t in campaign_sections(view)],
    )


@campaigns_router.get(
    "", response={200: list[CampaignOut], **errors(403)}, summary="The campaigns of the user's unit and below"
)
@operation_requires(Capability.DASHBOARD_READ)
def campaign_list(request: HttpRequest) -> list[CampaignOut]:
    return [_campaign_out(campaign, unit) for campaign, unit in campaigns_for_user(user=request.user)]


@campaigns_router.get(
    "/{int:campaign_id}", response={200: CampaignOut, **errors(403, 404)}, summary="One campaign"
)
@operation_requires(Capability.DASHBOARD_READ)
def campaign_detail(request: HttpRequest, campaign_id: RecordId) -> CampaignOut:
    campaign, unit = access_campaign_by_id(user=request.user, campaign_id=campaign_id)
    return _campaign_out(campaign, unit)
