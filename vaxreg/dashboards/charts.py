"""What the charts draw, as plain data for ``static/dashboards/charts.js`` (Chart.js, vendored): a page puts
it in a ``json_script`` element and the script draws it. Every chart stands beside the table with the same
numbers (the accessible reading of it, and what is downloaded), so a chart never holds a number alone.
"""

from typing import Any

from django.utils.translation import gettext

from vaxreg.dashboards.campaigns import CampaignView
from vaxreg.dashboards.figures import LABELS
from vaxreg.dashboards.sections import Section

# The vendored library's file and its SHA-256 (checked by a test against the file shipped).
CHART_JS = "dashboards/vendor/chart-4.6.2.umd.min.js"
CHART_JS_SHA256 = "3f288f4f26882c26b58931fb586a9b4f30370b5de38d69dc005b0bd05b08e113"


def campaign_chart(view: CampaignView) -> dict[str, Any]:
    """The campaign's trend (burn-down for open work) with the goal as a line, up to today."""
    percent = view.rule.rises
    return {
        "kind": "line",
        "title": view.campaign.name,
        "labels": [d.strftime("%d/%m") for d in view.series.days],
        "series": [
            {
                "name": str(LABELS[view.rule.figure]),
                "values": [None if v is None else round(v, 2) for v in view.series.values],
            }
        ],
        "goal": {"name": gettext("Goal"), "value": view.goal},
        "percent": percent,
    }


def bars_chart(section: Section, *, column: int, title: str, percent: bool = False) -> dict[str, Any]:
    """One column of a table as bars, one per row (units below, rules)."""
    labels: list[str] = []
    values: list[float | int | None] = []
    for row in section.rows:
        cell = row[column]
        labels.append(str(row[0].value))
        if cell.value is None:
            values.append(None)
        else:
            values.append(round(cell.value * 100, 1) if percent else cell.value)
    return {
        "kind": "bar",
        "title": title,
        "labels": labels,
        "series": [{"name": title, "values": values}],
        "percent": percent,
    }
