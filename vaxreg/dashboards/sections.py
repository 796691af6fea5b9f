"""A dashboard's tables, built once from the kept figures and read three ways: the page, the CSV/XLSX
download and the API answer, so the three always show the same numbers.

Each table is a ``Section``: a title, its column headers and rows of cells (a cell keeps its raw value for
the files and the JSON, and where it leads for the page: a unit's own dashboard, a worklist).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from vaxreg.core import clock
from vaxreg.dashboards.campaigns import PACE_DAYS, CampaignView
from vaxreg.dashboards.figures import LABELS
from vaxreg.dashboards.selectors import ChildRow, Figures, Unit
from vaxreg.vaccinations.selectors import vaccine_catalogue
from vaxreg.verification.models import ACTIVE_STATES, CaseState
from vaxreg.verification.web_selectors import BLOCKING_CODES, code_label

# The age of an open case in days (from, to], and the time an open complaint has left in hours.
CASE_AGES = ((0, 7), (8, 30), (31, 90), (91, None))
TIME_LEFT = ((None, 0), (0, 12), (12, 24), (24, None))


@dataclass(frozen=True)
class Cell:
    value: Any  # an int, a share (float 0..1), a text, a day (ISO text), or None
    kind: str = "num"  # num, share, text, date
    link: str | None = None

    @property
    def text(self) -> str:
        if self.value is None:
            return "–"
        if self.kind == "share":
            return f"{number_format(self.value * 100, 1)} %"
        if self.kind == "num":
            return number_format(self.value, force_grouping=True)
        if self.kind == "date":
            return dt.date.fromisoformat(self.value).strftime("%d/%m/%Y")
        return str(self.value)


@dataclass
class Section:
    slug: str
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    sortable: bool = False
    hint: str = ""
    empty: str = ""  # what the page says when there is no row
    chart: dict[str, Any] | None = None  # what charts.js draws beside the table (charts.py)

    @property
    def chart_id(self) -> str:
        return f"chart-{self.slug}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "headers": self.headers,
            "rows": [[c.value for c in row] for row in self.rows],
        }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _num(value: int, link: str | None = None) -> Cell:
    return Cell(value, "num", link)


def _text(value: str, link: str | None = None) -> Cell:
    return Cell(value, "text", link)


def _dashboard_url(key: str | None) -> str | None:
    return reverse("dashboards:unit", args=[key]) if key else None


def children_section(
    unit: Unit, children: list[ChildRow], *, sort: str = "", descending: bool = False
) -> Section:
    below = {
        "nation": _("Province"),
        "province": _("Commune"),
        "commune": _("Facility"),
    }.get(unit.level, _("Unit"))
    headers = [
        str(below),
        gettext("Code"),
        str(LABELS["persons"]),
        gettext("Complete"),
        gettext("Verified"),
        str(LABELS["doses_total"]),
        str(LABELS["findings_open"]),
        str(LABELS["cases_active"]),
        str(LABELS["complaints_open"]),
        str(LABELS["complaints_escalated"]),
        gettext("Days signed off"),
    ]
    rows = []
    for child in children:
        f = child.figures
        name = child.name or gettext("Not placed in a unit below")
        rows.append(
            [
                _text(name, _dashboard_url(child.key)),
                _text(child.code),
                _num(f.value("persons")),
                Cell(f.share("complete"), "share"),
                Cell(f.share("verified"), "share"),
                _num(f.value("doses_total")),
                _num(f.value("findings_open")),
                _num(f.value("cases_active")),
                _num(f.value("complaints_open")),
                _num(f.value("complaints_escalated")),
                Cell(_share(f.value("signed_days"), f.value("dose_days")), "share"),
            ]
        )
    column = next((i for i, h in enumerate(CHILD_SORT_KEYS) if h == sort), None)
    if column is not None:
        rows.sort(key=lambda r: _sort_value(r[column]), reverse=descending)
    return Section(
        slug="units",
        title=gettext("Units below"),
        headers=headers,
        rows=rows,
        sortable=True,
        hint=gettext("Each row opens that unit's own dashboard. Click a column's title to sort."),
    )


# The sort keys of the children table's columns, in order (the page's links carry them).
CHILD_SORT_KEYS = (
    "name",
    "code",
    "persons",
    "complete",
    "verified",
    "doses",
    "findings",
    "cases",
    "complaints",
    "late",
    "signed",
)


def _sort_value(cell: Cell) -> tuple[int, Any]:
    # Empty cells (no figure) last whichever way the column is sorted... as far as a plain sort allows.
    if cell.value is None:
        return (0, 0)
    return (1, cell.value)


def sections(
    unit: Unit,
    figures: Figures,
    *,
    now: dt.datetime | None = None,
    worklist_link: Callable[[dict[str, str]], str | None] | None = None,
) -> list[Section]:
    """Every table of the unit's dashboard but the units below it."""
    now = now or clock.now()
    link = worklist_link or (lambda params: None)
    out = [_overview(figures)]
    out.append(_doses(figures))
    out.append(_findings(figures, link))
    out += _cases(figures, now, link)
    out.append(_complaints(figures, now))
    out.append(_imports(figures))
    return out


def _overview(f: Figures) -> Section:
    rows = [
        [_text(str(LABELS["persons"])), _num(f.value("persons")), Cell(None, "share")],
        [_text(str(LABELS["complete"])), _num(f.value("complete")), Cell(f.share("complete"), "share")],
        [_text(str(LABELS["verified"])), _num(f.value("verified")), Cell(f.share("verified"), "share")],
        [_text(str(LABELS["doses_total"])), _num(f.value("doses_total")), Cell(None, "share")],
        [_text(str(LABELS["findings_open"])), _num(f.value("findings_open")), Cell(None, "share")],
        [_text(str(LABELS["cases_active"])), _num(f.value("cases_active")), Cell(None, "share")],
        [
            _text(gettext("Days signed off of days with doses")),
            _num(f.value("signed_days")),
            Cell(_share(f.value("signed_days"), f.value("dose_days")), "share"),
        ],
    ]
    return Section(
        slug="overview",
        title=gettext("Overview"),
        headers=[gettext("Figure"), gettext("Number"), gettext("Share")],
        rows=rows,
        hint=gettext(
            "Complete: name, date of birth, gender and ID number present and agreeing with the CCCD (no open "
            "blocking finding about them). Verified: confirmed by the health station or matched by the police."
        ),
    )


def _doses(f: Figures) -> Section:
    catalogue = vaccine_catalogue()
    rows = [
        [_text(gettext("Dose %(n)s") % {"n": key} if key else gettext("Dose number unknown")), _num(v)]
        for key, v in f.by_key("doses").items()
    ]
    rows += [
        [_text(catalogue[key].name if key in catalogue else gettext("Vaccine unknown")), _num(v)]
        for key, v in f.by_key("vaccine").items()
    ]
    return Section(
        slug="doses",
        title=gettext("Doses by dose number and by vaccine"),
        headers=[gettext("Dose or vaccine"), str(LABELS["doses_total"])],
        rows=rows,
    )


def _findings(f: Figures, link: Callable[[dict[str, str]], str | None]) -> Section:
    # Only a blocking rule's cases are on the worklist; a warning's code links nowhere.
    rows = [
        [
            _text(code, link({"code": code}) if code in BLOCKING_CODES else None),
            _text(code_label(code)),
            _num(v),
        ]
        for code, v in sorted(f.by_key("findings").items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return Section(
        slug="findings",
        title=gettext("Open findings by rule"),
        headers=[gettext("Rule"), gettext("Meaning"), gettext("Open findings")],
        rows=rows,
        hint=gettext("A blocking rule's code opens the verification worklist of its cases."),
    )


def _cases(f: Figures, now: dt.datetime, link: Callable[[dict[str, str]], str | None]) -> list[Section]:
    states = f.by_key("cases")
    by_state = Section(
        slug="cases",
        title=gettext("Verification cases by state"),
        headers=[gettext("State"), gettext("Cases")],
        rows=[
            [
                _text(str(label), link({"state": value}) if value in ACTIVE_STATES else None),
                _num(states.get(value, 0)),
            ]
            for value, label in CaseState.choices
        ],
    )
    today = now.date()
    ages = [0] * len(CASE_AGES)
    for day, n in f.by_key("case_opened").items():
        age = (today - dt.date.fromisoformat(day)).days
        for i, (low, high) in enumerate(CASE_AGES):
            if age >= low and (high is None or age <= high):
                ages[i] += n
                break
    by_age = Section(
        slug="case_ages",
        title=gettext("Open cases by age"),
        headers=[gettext("Open for"), gettext("Cases")],
        rows=[
            [
                _text(
                    gettext("%(low)s–%(high)s days") % {"low": low, "high": high}
                    if high is not None
                    else gettext("more than %(days)s days") % {"days": low - 1}
                ),
                _num(n),
            ]
            for (low, high), n in zip(CASE_AGES, ages, strict=True)
        ],
    )
    return [by_state, by_age]


def _complaints(f: Figures, now: dt.datetime) -> Section:
    left = [0] * len(TIME_LEFT)
    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    for due, n in f.by_key("complaint_due").items():
        hours = (dt.datetime.strptime(due, "%Y-%m-%dT%H") - hour).total_seconds() / 3600
        for i, (low, high) in enumerate(TIME_LEFT):
            if (low is None or hours >= low) and (high is None or hours < high):
                left[i] += n
                break
    labels = [
        gettext("open, past the 48 hours"),
        gettext("open, under 12 hours left"),
        gettext("open, 12–24 hours left"),
        gettext("open, more than 24 hours left"),
    ]
    rows = [
        [_text(str(LABELS["complaints_received"])), _num(f.value("complaints_received"))],
        [_text(str(LABELS["complaints_on_time"])), _num(f.value("complaints_on_time"))],
        [_text(str(LABELS["complaints_resolved_late"])), _num(f.value("complaints_resolved_late"))],
        [_text(str(LABELS["complaints_escalated"])), _num(f.value("complaints_escalated"))],
        *([_text(label), _num(n)] for label, n in zip(labels, left, strict=True)),
    ]
    return Section(
        slug="complaints",
        title=pgettext("dashboard", "Complaints"),
        headers=[pgettext("dashboard", "Complaints"), gettext("Number")],
        rows=rows,
        hint=gettext(
            "Counted where the complaint is handled; complaints joined to an earlier one are not counted again."
        ),
    )


def _imports(f: Figures) -> Section:
    return Section(
        slug="imports",
        title=gettext("Imports"),
        headers=[gettext("Files and rows"), gettext("Number")],
        rows=[
            [_text(str(LABELS[name])), _num(f.value(name))]
            for name in ("import_files", "import_refused", "import_stored", "import_rejected")
        ],
    )


# -- a campaign's tables -------------------------------------------------------------------------------------


def _target_cell(view: CampaignView, value: float | None) -> Cell:
    """A target's value: a share (kept in %, shown as a share) or a count."""
    if value is None:
        return Cell(None, "share" if view.rule.rises else "num")
    if view.rule.rises:
        return Cell(value / 100, "share")
    return Cell(int(round(value)), "num")


def _date_cell(day: dt.date | None, empty: str) -> Cell:
    return Cell(day.isoformat(), "date") if day else _text(empty)


def campaign_sections(view: CampaignView) -> list[Section]:
    """The campaign's summary, the units below that are behind, and its trend (each also a download)."""
    p = view.projection
    never = gettext("not at this pace")
    late = p.days_late(view.campaign.deadline)
    summary = Section(
        slug="summary",
        title=gettext("Where the campaign stands"),
        headers=[gettext("Figure"), gettext("Value")],
        rows=[
            [_text(gettext("Goal")), _target_cell(view, view.goal)],
            [_text(gettext("Now")), _target_cell(view, p.value)],
            [
                _text(gettext("Pace over the last %(days)s days, per day") % {"days": PACE_DAYS}),
                _pace_cell(view, p.pace),
            ],
            [_text(pgettext("campaign", "Deadline")), _date_cell(view.campaign.deadline, "")],
            [_text(gettext("Goal reached on")), _date_cell(p.reached_on, "–")],
            [
                _text(gettext("Projected finish at this pace")),
                _date_cell(p.projected, "–" if p.reached_on else never),
            ],
            [
                _text(gettext("Days after the deadline")),
                Cell(late, "num") if late is not None else _text(never),
            ],
        ],
    )
    behind = Section(
        slug="behind",
        title=gettext("Units behind, the furthest first"),
        headers=[
            gettext("Unit"),
            gettext("Code"),
            gettext("Now"),
            gettext("Pace per day"),
            gettext("Projected finish"),
            gettext("Days after the deadline"),
            str(LABELS["cases_active"]),
            gettext("Blocking findings by rule"),
        ],
        rows=[
            [
                _text(b.name, _dashboard_url(b.key)),
                _text(b.code),
                _target_cell(view, b.projection.value),
                _pace_cell(view, b.projection.pace),
                _date_cell(b.projection.projected, never),
                Cell(b.days_late, "num") if b.days_late is not None else _text(never),
                _num(b.cases_active),
                _text(
                    ", ".join(f"{code} {number_format(n, force_grouping=True)}" for code, n in b.open_by_rule)
                    or "–"
                ),
            ]
            for b in view.behind
        ],
        hint=gettext(
            "Each unit's own pace over the last %(days)s days, projected to the goal; a unit that has not moved "
            "will not get there at this pace. Its blocking findings say what keeps its cases open."
        )
        % {"days": PACE_DAYS},
    )
    trend = Section(
        slug="trend",
        title=gettext("Day by day"),
        headers=[gettext("Day"), str(LABELS[view.rule.figure]), gettext("Goal")],
        rows=[
            [_date_cell(day, ""), _target_cell(view, value), _target_cell(view, view.goal)]
            for day, value in zip(view.series.days, view.series.values, strict=True)
        ],
    )
    return [summary, behind, trend]


def _pace_cell(view: CampaignView, pace: float | None) -> Cell:
    if pace is None:
        return Cell(None, "num")
    pace = round(pace, 2) + 0.0  # no "-0,00"
    if view.rule.rises:
        return _text(f"{number_format(pace, 2)} %")
    return _text(number_format(round(pace, 1) + 0.0, 1))
