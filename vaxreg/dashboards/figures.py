"""What a unit's figures are made of: one small class per source of rows, each reading the selector of the
app that owns those rows, and the figures derived from them. Every figure is a count, so a unit's total is
the sum of its children's: what is counted where a unit is read is only adding up.
"""

from collections.abc import Iterable, Mapping
from typing import ClassVar

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from vaxreg.complaints.figures import complaint_unit_figures
from vaxreg.core.touched import BaseUnits, Rows, UnitCount
from vaxreg.imports.selectors import import_figures
from vaxreg.people.selectors import person_figures
from vaxreg.quality.selectors import finding_figures
from vaxreg.vaccinations.selectors import dose_figures
from vaxreg.verification.selectors import case_figures


class Source:
    """Rows of figures from one app. ``placed_by``: ``commune`` when its rows are placed by where the person
    lives (persons, findings, cases), ``facility`` when by the facility that gave or handles them. ``rows``:
    the kind of rows it counts (what a write names when it changed only those); ``figures``: every figure it
    gives, and no other source gives (a recount of its rows alone replaces these and keeps the others)."""

    placed_by: ClassVar[str]
    rows_of: ClassVar[Rows]
    figures: ClassVar[frozenset[str]]

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        raise NotImplementedError


class Persons(Source):
    """Persons per commune of residence, and those verified."""

    placed_by = "commune"
    rows_of = Rows.PERSONS
    figures = frozenset({"persons", "verified"})

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        return person_figures(units)


class Findings(Source):
    """Open findings by rule, and the persons missing or contradicting a mandatory citizen field."""

    placed_by = "commune"
    rows_of = Rows.FINDINGS
    figures = frozenset({"findings", "incomplete"})

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        return finding_figures(units)


class Cases(Source):
    """Verification cases by state, and the active ones by the day they opened."""

    placed_by = "commune"
    rows_of = Rows.CASES
    figures = frozenset({"cases", "case_opened"})

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        return case_figures(units)


class Doses(Source):
    """Valid doses by dose number and by vaccine; days with doses and days signed off."""

    placed_by = "facility"
    rows_of = Rows.DOSES
    figures = frozenset({"doses", "vaccine", "dose_days", "signed_days"})

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        return dose_figures(units)


class Imports(Source):
    """Files imported and refused, rows stored and rejected."""

    placed_by = "facility"
    rows_of = Rows.IMPORTS
    figures = frozenset({"import_files", "import_refused", "import_stored", "import_rejected"})

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        return import_figures(units)


class Complaints(Source):
    """Complaints received, resolved on time or late, escalated, open, and the open ones by hour due."""

    placed_by = "facility"
    rows_of = Rows.COMPLAINTS
    figures = frozenset(
        {
            "complaints_received",
            "complaints_on_time",
            "complaints_resolved_late",
            "complaints_escalated",
            "complaints_open",
            "complaint_due",
        }
    )

    def rows(self, units: BaseUnits) -> Iterable[UnitCount]:
        return complaint_unit_figures(units)


SOURCES: tuple[Source, ...] = (Persons(), Findings(), Cases(), Doses(), Imports(), Complaints())

# A keyless total of each figure counted by key, so that a list of units and a day's row read one number.
KEY_TOTALS = {"findings": "findings_open", "case_opened": "cases_active", "doses": "doses_total"}
DERIVED = frozenset({*KEY_TOTALS.values(), "complete"})  # what ``derived`` makes: never counted, always made


def derived(figures: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """The figures made from a base unit's counted ones: the totals over keys, and the persons with all
    four mandatory fields present and agreeing with the CCCD (``complete``)."""
    out: dict[tuple[str, str], int] = {}
    for (figure, _key), value in figures.items():
        total = KEY_TOTALS.get(figure)
        if total:
            out[(total, "")] = out.get((total, ""), 0) + value
    persons = figures.get(("persons", ""), 0)
    if persons:
        out[("complete", "")] = persons - figures.get(("incomplete", ""), 0)
    return out


# The figures kept for every day (a trend, a campaign's target); the others are kept as they stand now.
HEADLINE = (
    "persons",
    "complete",
    "verified",
    "findings_open",
    "cases_active",
    "doses_total",
    "complaints_received",
    "complaints_open",
    "complaints_escalated",
)

LABELS = {
    "persons": _("Persons"),
    "complete": _("Complete and consistent with the CCCD"),
    "verified": _("Verified"),
    "incomplete": _("Missing or contradicting a citizen field"),
    "findings_open": _("Open findings"),
    "cases_active": _("Open verification cases"),
    "doses_total": pgettext_lazy("dashboard figure", "Doses"),
    "dose_days": _("Days with doses"),
    "signed_days": _("Days signed off"),
    "import_files": _("Files imported"),
    "import_refused": _("Files refused"),
    "import_stored": _("Rows stored"),
    "import_rejected": _("Rows rejected"),
    "complaints_received": _("Complaints received"),
    "complaints_on_time": _("Resolved on time"),
    "complaints_resolved_late": _("Resolved late"),
    "complaints_escalated": _("Escalated (late)"),
    "complaints_open": _("Complaints open"),
}
