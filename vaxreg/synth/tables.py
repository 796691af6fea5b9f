"""The data files under ``synth/data`` turned into the lookup tables the generator draws from.

Everything that describes Vietnam (names, age pyramid, vaccine mix, schedules, lot formats) lives in those
files, not here; this module only reads them once and prepares cumulative weights for fast draws.
"""

import csv
import datetime as dt
import json
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any, Generic, TypeVar

DATA_DIR = Path(__file__).parent / "data"

T = TypeVar("T")


@dataclass(frozen=True)
class Weighted(Generic[T]):
    """Values with cumulative weights: ``pick(u)`` maps a uniform draw in [0, 1) to a value."""

    values: tuple[T, ...]
    cum: tuple[float, ...]

    @classmethod
    def of(cls, pairs: list[tuple[T, float]]) -> "Weighted[T]":
        kept = [(v, w) for v, w in pairs if w > 0]
        if not kept:
            raise ValueError("a weighted table needs at least one positive weight")
        return cls(tuple(v for v, _ in kept), tuple(accumulate(w for _, w in kept)))

    def pick(self, u: float) -> T:
        return self.values[bisect_right(self.cum, u * self.cum[-1])]


def strip_diacritics(text: str) -> str:
    """Drop the marks as a keyboard without Vietnamese input would: "Nguyễn Văn Đức" → "Nguyen Van Duc"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return [
            {k: unicodedata.normalize("NFC", v) for k, v in row.items()} for row in csv.DictReader(handle)
        ]


def _json(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)


def _day(text: str) -> int:
    return dt.date.fromisoformat(text).toordinal()


@dataclass(frozen=True)
class VaccineTable:
    code: str
    primary_doses: int
    interval_days: tuple[int, int]
    typed: Weighted[str]
    lot_patterns: tuple[str, ...]


@dataclass(frozen=True)
class RolloutCurve:
    """Share of first doses per day from ``first_day``: cumulative, so a draw can start at any day."""

    cum: tuple[float, ...]

    def draw(self, *, first_day: int, start: int, u: float) -> int:
        index = max(start - first_day, 0)
        if index >= len(self.cum):
            return first_day + len(self.cum) - 1
        low = self.cum[index - 1] if index else 0.0
        high = self.cum[-1]
        if low >= high:  # nobody is vaccinated after this day on this curve: take the day itself
            return start
        return first_day + min(bisect_right(self.cum, low + u * (high - low)), len(self.cum) - 1)


@dataclass(frozen=True)
class Tables:
    surnames: Weighted[str]
    middle: dict[tuple[str, bool], Weighted[str]]  # (gender, born young) → middle names
    given: dict[str, Weighted[str]]
    given_with_diacritics: dict[str, Weighted[str]]
    foreign_names: dict[str, tuple[str, ...]]
    streets: tuple[str, ...]
    villages: tuple[str, ...]
    cmnd_prefix: dict[str, str]
    birth_bands: Weighted[tuple[int, int]]
    population: dict[str, Any]
    vaccination: dict[str, Any]
    defects: dict[str, Any]
    vaccines: dict[str, VaccineTable]
    primary_mix: Weighted[str]
    booster_mix: Weighted[str]
    dose_counts: dict[str, Weighted[int]]
    rollout: dict[str, RolloutCurve]
    first_day: int
    last_day: int
    adult_start: int
    teen_start: int
    child_start: int
    booster_start: int
    second_booster_start: int


def _rollout(monthly: dict[str, float], *, first_day: int, last_day: int) -> RolloutCurve:
    weights = []
    for ordinal in range(first_day, last_day + 1):
        day = dt.date.fromordinal(ordinal)
        month_start = day.replace(day=1)
        next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
        weights.append(monthly.get(f"{day:%Y-%m}", 0.0) / (next_month - month_start).days)
    return RolloutCurve(tuple(accumulate(weights)))


@cache
def tables() -> Tables:
    population = _json("population.json")
    vaccination = _json("vaccination.json")
    middle_rows = _csv("middle_names.csv")
    given_rows = _csv("given_names.csv")
    vaccines = {
        code: VaccineTable(
            code=code,
            primary_doses=int(spec["primary_doses"]),
            interval_days=(int(spec["interval_days"][0]), int(spec["interval_days"][1])),
            typed=Weighted.of(list(spec["typed"].items())),
            lot_patterns=tuple(spec["lots"]),
        )
        for code, spec in vaccination["vaccines"].items()
    }
    first_day = _day(vaccination["adult_start"])
    last_day = _day(vaccination["last_day"])
    return Tables(
        surnames=Weighted.of([(r["name"], float(r["weight"])) for r in _csv("surnames.csv")]),
        middle={
            (gender, young): Weighted.of(
                [
                    (r["name"], float(r["weight_younger" if young else "weight_older"]))
                    for r in middle_rows
                    if r["gender"] == gender
                ]
            )
            for gender in ("M", "F")
            for young in (False, True)
        },
        given={
            g: Weighted.of([(r["name"], float(r["weight"])) for r in given_rows if r["gender"] == g])
            for g in ("M", "F")
        },
        given_with_diacritics={
            g: Weighted.of(
                [
                    (r["name"], float(r["weight"]))
                    for r in given_rows
                    if r["gender"] == g and strip_diacritics(r["name"]) != r["name"]
                ]
            )
            for g in ("M", "F")
        },
        foreign_names={
            g: tuple(r["name"] for r in _csv("foreign_names.csv") if r["gender"] == g) for g in ("M", "F")
        },
        streets=tuple(r["name"] for r in _csv("streets.csv")),
        villages=tuple(r["name"] for r in _csv("villages.csv")),
        cmnd_prefix={r["cccd_code"]: r["cmnd_prefix"] for r in _csv("cmnd_prefixes.csv")},
        birth_bands=Weighted.of(
            [((b["from"], b["to"]), float(b["weight"])) for b in population["birth_year_bands"]]
        ),
        population=population,
        vaccination=vaccination,
        defects=_json("defects.json"),
        vaccines=vaccines,
        primary_mix=Weighted.of(
            [(code, float(s["primary_weight"])) for code, s in vaccination["vaccines"].items()]
        ),
        booster_mix=Weighted.of(
            [(code, float(s["booster_weight"])) for code, s in vaccination["vaccines"].items()]
        ),
        dose_counts={
            group: Weighted.of([(n, float(w)) for n, w in enumerate(weights, start=1)])
            for group, weights in vaccination["dose_count_weights"].items()
        },
        rollout={
            group: _rollout(monthly, first_day=first_day, last_day=last_day)
            for group, monthly in vaccination["rollout"].items()
        },
        first_day=first_day,
        last_day=last_day,
        adult_start=_day(vaccination["adult_start"]),
        teen_start=_day(vaccination["teen_start"]),
        child_start=_day(vaccination["child_start"]),
        booster_start=_day(vaccination["booster_start"]),
        second_booster_start=_day(vaccination["second_booster_start"]),
    )
