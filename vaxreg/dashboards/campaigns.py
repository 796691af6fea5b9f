"""Campaigns (SPEC §9): a unit's goal by a deadline, its daily trend, the date the recent pace reaches the
goal, and the units below it whose own pace reaches it after the deadline, ranked by how far behind.

Every number comes from the days kept by the rollups (``UnitFigureDay``); a day without a row (nothing
changed in the unit that day) carries the last known value forward.
"""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import Http404

from vaxreg.accounts.permissions import Capability, capability_require
from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.dashboards.models import Campaign, Level, Target, UnitFigure, UnitFigureDay
from vaxreg.dashboards.selectors import (
    Unit,
    UnitNotVisible,
    _unit_of_key,
    access_unit_by_key,
    home_unit_key,
    unit_children,
    unit_within,
)
from vaxreg.verification.web_selectors import BLOCKING_CODES

PACE_DAYS = 7  # the recent pace: the change over the last week, per day


@dataclass(frozen=True)
class TargetRule:
    """How a target reads a unit's day: a share of ``whole`` in % (goal reached from below), or a count
    (goal reached from above)."""

    figure: str
    whole: str | None = None

    @property
    def rises(self) -> bool:
        return self.whole is not None

    def value(self, figures: dict[str, int]) -> float | None:
        if self.whole is None:
            return float(figures.get(self.figure, 0))
        whole = figures.get(self.whole, 0)
        return 100.0 * figures.get(self.figure, 0) / whole if whole else None

    def reached(self, value: float | None, goal: float) -> bool:
        if value is None:
            return False
        return value >= goal if self.rises else value <= goal


TARGET_RULES = {
    Target.VERIFIED_SHARE: TargetRule("verified", "persons"),
    Target.COMPLETE_SHARE: TargetRule("complete", "persons"),
    Target.CASES_ACTIVE: TargetRule("cases_active"),
    Target.FINDINGS_OPEN: TargetRule("findings_open"),
}


class CampaignRefused(Refusal):
    """A campaign that cannot be created as asked."""


class CampaignNotVisible(Http404):
    """The campaign does not exist or covers a unit outside the reader's: both look the same."""


# -- reads ------------------------------------------------------------------------------------------------


def campaigns_for_user(*, user: Any) -> list[tuple[Campaign, Unit]]:
    """The campaigns of the user's unit and of the units below it, each with its unit, the open ones first,
    by deadline."""
    found = []
    for campaign in Campaign.objects.order_by("closed_at", "deadline", "pk"):
        try:
            unit = _unit_of_key(campaign.unit_key)
        except UnitNotVisible:
            continue
        if unit_within(user, unit):
            found.append((campaign, unit))
    return found


def access_campaign_by_id(*, user: Any, campaign_id: int) -> tuple[Campaign, Unit]:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotVisible
    try:
        return campaign, access_unit_by_key(user=user, key=campaign.unit_key)
    except UnitNotVisible as hidden:
        raise CampaignNotVisible from hidden


@dataclass(frozen=True)
class Projection:
    value: float | None  # today's
    pace: float | None  # per day, over the last PACE_DAYS (positive: towards the goal)
    reached_on: dt.date | None  # the first day at the goal, when it is reached
    projected: dt.date | None  # the day the pace reaches the goal (None: never at this pace)

    def days_late(self, deadline: dt.date) -> int | None:
        """Days after the deadline the goal is reached at this pace (0: on time; None: never)."""
        if self.reached_on is not None:
            return max(0, (self.reached_on - deadline).days)
        if self.projected is None:
            return None
        return max(0, (self.projected - deadline).days)


@dataclass(frozen=True)
class Series:
    days: list[dt.date]
    values: list[float | None]


def _days_of(
    level: str, units: list[str], figures: list[str], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, dict[str, int]]]:
    """The kept days of these units, with the last day before ``start`` (what was carried into it)."""
    rows = UnitFigureDay.objects.filter(
        level=level, unit__in=units, figure__in=figures, day__lte=end
    ).order_by("day")
    by_unit: dict[str, dict[dt.date, dict[str, int]]] = defaultdict(dict)
    for unit, day, figure, value in rows.values_list("unit", "day", "figure", "value"):
        by_unit[unit].setdefault(day, {})[figure] = value
    return by_unit


def series_of(rule: TargetRule, days: dict[dt.date, dict[str, int]], start: dt.date, end: dt.date) -> Series:
    """One value per day from ``start`` to ``end``, carrying the last kept day forward."""
    known = sorted(days)
    out_days, out_values = [], []
    current: dict[str, int] | None = None
    i = 0
    day = start
    while i < len(known) and known[i] < start:
        current = days[known[i]]
        i += 1
    while day <= end:
        while i < len(known) and known[i] <= day:
            current = days[known[i]]
            i += 1
        out_days.append(day)
        out_values.append(rule.value(current) if current is not None else None)
        day += dt.timedelta(days=1)
    return Series(out_days, out_values)


def projection_of(rule: TargetRule, series: Series, goal: float) -> Projection:
    values = series.values
    today_value = values[-1] if values else None
    reached_on = None
    if rule.reached(today_value, goal):
        for day, value in zip(series.days, values, strict=True):
            if rule.reached(value, goal):
                reached_on = day
                break
    known = [(d, v) for d, v in zip(series.days, values, strict=True) if v is not None]
    pace = None
    if len(known) >= 2 and today_value is not None:
        last_day = known[-1][0]
        first_day, first_value = next(
            ((d, v) for d, v in known if (last_day - d).days <= PACE_DAYS), known[0]
        )
        span = (last_day - first_day).days
        if span > 0:
            change = (today_value - first_value) / span
            pace = change if rule.rises else -change
    projected = None
    if reached_on is None and today_value is not None and pace and pace > 0:
        gap = (goal - today_value) if rule.rises else (today_value - goal)
        projected = series.days[-1] + dt.timedelta(days=math.ceil(gap / pace))
    return Projection(value=today_value, pace=pace, reached_on=reached_on, projected=projected)


@dataclass(frozen=True)
class Behind:
    """A unit below whose own pace reaches the goal after the deadline (or never)."""

    key: str
    code: str
    name: str
    projection: Projection
    days_late: int | None  # None: never at this pace
    open_by_rule: list[tuple[str, int]]  # its open blocking findings by rule, most first
    cases_active: int


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    unit: Unit
    rule: TargetRule
    goal: float
    series: Series
    projection: Projection
    on_time: bool
    behind: list[Behind]
    units_below: int


def campaign_view(campaign: Campaign, unit: Unit, *, today: dt.date | None = None) -> CampaignView:
    today = today or clock.today()
    rule = TARGET_RULES[Target(campaign.target)]
    goal = float(campaign.goal)
    end = max(today, campaign.start)  # a campaign not started yet shows its first day
    figures = [rule.figure, *([rule.whole] if rule.whole else [])]
    own = _days_of(unit.level, [unit.stored], figures, campaign.start, end).get(unit.stored, {})
    series = series_of(rule, own, campaign.start, end)
    projection = projection_of(rule, series, goal)
    late = projection.days_late(campaign.deadline)
    behind: list[Behind] = []
    children = [c for c in unit_children(unit) if c.key is not None]
    child_level = unit.child_level
    if child_level in (Level.PROVINCE, Level.COMMUNE) and children:
        stored = {c.code: c for c in children}
        kept = _days_of(child_level, list(stored), figures, campaign.start, end)
        open_rules = _open_rules(child_level, list(stored))
        for code, child in stored.items():
            child_projection = projection_of(
                rule, series_of(rule, kept.get(code, {}), campaign.start, end), goal
            )
            child_late = child_projection.days_late(campaign.deadline)
            if child_projection.value is None or child_late == 0:
                continue
            behind.append(
                Behind(
                    key=child.key or code,
                    code=code,
                    name=child.name,
                    projection=child_projection,
                    days_late=child_late,
                    open_by_rule=open_rules.get(code, [])[:3],
                    cases_active=child.figures.value("cases_active"),
                )
            )
    behind.sort(key=lambda b: (b.days_late is not None, -(b.days_late or 0), b.code))
    return CampaignView(
        campaign=campaign,
        unit=unit,
        rule=rule,
        goal=goal,
        series=series,
        projection=projection,
        on_time=late == 0,
        behind=behind,
        units_below=len(children),
    )


def _open_rules(level: str, units: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Each unit's open blocking findings by rule, most first: what keeps its cases open."""
    rows = UnitFigure.objects.filter(
        level=level, unit__in=units, figure="findings", key__in=BLOCKING_CODES
    ).values_list("unit", "key", "value")
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for unit, code, value in rows:
        out[unit].append((code, value))
    return {unit: sorted(rules, key=lambda r: (-r[1], r[0])) for unit, rules in out.items()}


# -- writes -----------------------------------------------------------------------------------------------


@transaction.atomic
def campaign_create(
    *,
    actor: Any,
    name: str,
    unit_key: str,
    target: str,
    goal: Decimal,
    start: dt.date,
    deadline: dt.date,
) -> Campaign:
    """A campaign for the actor's unit or one below it (national and province users)."""
    capability_require(actor, Capability.CAMPAIGN_MANAGE)
    unit = access_unit_by_key(user=actor, key=unit_key)
    if unit.level == Level.FACILITY:
        raise CampaignRefused(
            "Chiến dịch dành cho cả nước, một tỉnh hoặc một xã.",
            "A campaign covers the nation, a province or a commune.",
            field="unit_key",
        )
    name = " ".join(name.split())[:200]
    if len(name) < 3:
        raise CampaignRefused("Cần đặt tên chiến dịch.", "The campaign needs a name.", field="name")
    if target not in Target.values:
        raise CampaignRefused("Chỉ tiêu không hợp lệ.", "The target is not valid.", field="target")
    if deadline <= start:
        raise CampaignRefused(
            "Hạn chót phải sau ngày bắt đầu.", "The deadline must be after the start.", field="deadline"
        )
    rule = TARGET_RULES[Target(target)]
    if goal < 0 or (rule.rises and goal > 100):
        raise CampaignRefused(
            "Mục tiêu tỷ lệ phải từ 0 đến 100 %.", "A share goal must be between 0 and 100 %.", field="goal"
        )
    campaign = Campaign.objects.create(
        name=name,
        unit_key=unit.key,
        target=target,
        goal=goal,
        start=start,
        deadline=deadline,
        created_by=actor,
        created_at=clock.now(),
    )
    audit_event_record(
        action=AuditEvent.Action.CAMPAIGN_CREATED,
        actor_id=actor.pk,
        object_type="campaign",
        object_id=str(campaign.pk),
        detail={"unit": unit.key, "target": target, "goal": str(goal), "deadline": deadline.isoformat()},
    )
    return campaign


def campaign_units_for_user(user: Any) -> list[tuple[str, str]]:
    """(key, name) of the units a user may start a campaign for: its own and those right below it."""
    key = home_unit_key(user)
    if key is None:
        return []
    unit = access_unit_by_key(user=user, key=key)
    choices = [(unit.key, unit.name)]
    if unit.level in (Level.NATION, Level.PROVINCE):
        choices += [(c.key, c.name) for c in unit_children(unit) if c.key]
    return choices


@transaction.atomic
def campaign_close(*, actor: Any, campaign_id: int, reason: str) -> Campaign:
    """Close a campaign (reached, replaced, called off): kept, with who closed it, when and why."""
    capability_require(actor, Capability.CAMPAIGN_MANAGE)
    campaign, _unit = access_campaign_by_id(user=actor, campaign_id=campaign_id)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.closed_at is not None:
        raise CampaignRefused("Chiến dịch đã đóng.", "The campaign is closed already.")
    reason = " ".join(reason.split())[:500]
    if len(reason) < 3:
        raise CampaignRefused(
            "Cần ghi lý do đóng chiến dịch.", "A reason for closing is needed.", field="reason"
        )
    campaign.closed_at = clock.now()
    campaign.save(update_fields=["closed_at"])
    audit_event_record(
        action=AuditEvent.Action.CAMPAIGN_CLOSED,
        actor_id=actor.pk,
        object_type="campaign",
        object_id=str(campaign.pk),
        detail={"reason": reason},
    )
    return campaign
