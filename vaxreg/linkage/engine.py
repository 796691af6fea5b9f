"""The linkage model: which person records are the same citizen, scored by Splink (DuckDB or Spark).

Nothing here touches the ORM: ``records_table`` turns person rows into the model's input columns, and
``Engine`` trains, predicts and clusters on them. The comparisons are small declarative definitions (each
level an SQL condition over the ``_l``/``_r`` columns of a pair, with the words the review page uses to
explain it); the trained parameters live in ``data/model-vN.json`` so a run predicts without retraining.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow is loaded only by a linkage run: the web and worker processes start without it
    import pyarrow as pa

from vaxreg.core.cccd import USABLE_ID_KINDS
from vaxreg.core.text import fold

DATA_DIR = Path(__file__).parent / "data"
MODEL_VERSION = 1
# A pair at or above this probability is suspected: a DUPLICATE_SUSPECT warning on both persons and a row in
# the review queue. Chosen before measuring (not fitted to the synthetic labels).
REVIEW_THRESHOLD = 0.9
# The columns a person row gives ``records_table``, in order (the ``people_person`` columns of the same names).
PERSON_COLUMNS = (
    "id",
    "full_name",
    "name_key",
    "birth_year",
    "birth_month",
    "birth_day",
    "gender",
    "id_type",
    "id_number",
    "phone",
    "commune_id",
    "province_id",
)
# The fields a pair's fingerprint covers: a "not the same" decision stands until one of them changes.
COMPARED_FIELDS = PERSON_COLUMNS[1:]

_PHONE = re.compile(r"0[1-9]\d{8}")
_PLACEHOLDER_PHONES = frozenset({"0123456789", "0987654321", "0999999999", "0912345678"})


@dataclass(frozen=True)
class Level:
    """One level of a comparison: its SQL condition, the words for it, and an optional term-frequency column."""

    key: str
    sql: str
    words_en: str
    words_vi: str
    tf: str = ""
    null: bool = False
    tf_weight: float = 1.0


@dataclass(frozen=True)
class Comparison:
    name: str
    doc: str
    levels: tuple[Level, ...] = field(default_factory=tuple)

    def splink(self) -> dict[str, Any]:
        levels: list[dict[str, Any]] = []
        for level in self.levels:
            spec: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.key}
            if level.null:
                spec["is_null_level"] = True
            if level.tf:
                spec["tf_adjustment_column"] = level.tf
                spec["tf_adjustment_weight"] = level.tf_weight
            levels.append(spec)
        levels.append({"sql_condition": "ELSE", "label_for_charts": "else"})
        return {
            "output_column_name": self.name,
            "comparison_description": self.doc,
            "comparison_levels": levels,
        }


def _both(column: str) -> str:
    return f"{column}_l IS NOT NULL AND {column}_r IS NOT NULL"


def _one_edit_guard(column: str) -> str:
    """A cheap condition every pair within one edit or transposition meets (so the edit distance is computed
    only for the few that do): lengths at most one apart, and, for names of 7 letters or more, the first
    three or the last three letters the same (one edit cannot touch both ends)."""
    a, b = f"{column}_l", f"{column}_r"
    return (
        f"abs(length({a}) - length({b})) <= 1 AND (length({a}) < 7 OR left({a}, 3) = left({b}, 3) "
        f"OR right({a}, 3) = right({b}, 3))"
    )


SURNAME = Comparison(
    "surname",
    "The family name, folded (no diacritics, Đ→D): the same (weighted by how common it is), one edit or "
    "two letters swapped, else different. Nguyễn is more than a third of the country: a shared Nguyễn says "
    "little, a shared Âu much.",
    (
        Level(
            "null", "surname_l IS NULL OR surname_r IS NULL", "a name is missing", "thiếu họ tên", null=True
        ),
        # Half the term-frequency adjustment: a rare surname is shared by a whole family, who also share
        # the household — taken whole, it makes siblings look like one person.
        Level("same", "surname_l = surname_r", "same family name", "cùng họ", tf="surname", tf_weight=0.5),
        Level(
            "one_edit",
            "abs(length(surname_l) - length(surname_r)) <= 1 AND damerau_levenshtein(surname_l, surname_r) <= 1",
            "family names one letter apart",
            "họ khác một chữ cái",
        ),
    ),
)

GIVEN = Comparison(
    "given_names",
    "The given name with the middle names: identical with diacritics; differing only in diacritics; the "
    "same given name with a middle name dropped or different; one edit or transposition; else different. "
    "Term-frequency adjusted on the given name.",
    (
        Level("null", "given_l IS NULL OR given_r IS NULL", "a name is missing", "thiếu họ tên", null=True),
        Level("exact", "name_nfc_l = name_nfc_r", "same full name", "trùng họ tên", tf="given"),
        Level(
            "diacritics",
            "name_fold_l = name_fold_r",
            "names differ only in diacritics",
            "họ tên chỉ khác dấu",
            tf="given",
        ),
        Level(
            "one_edit",
            f"{_one_edit_guard('name_fold')} AND damerau_levenshtein(name_fold_l, name_fold_r) <= 1",
            "names one letter apart or two letters swapped",
            "họ tên khác một chữ cái hoặc đảo hai chữ",
        ),
        Level(
            "middle_dropped",
            "given_l = given_r AND (middle_l IS NULL OR middle_r IS NULL)",
            "same given name, middle name dropped",
            "cùng tên, một bên thiếu tên đệm",
            tf="given",
        ),
        Level(
            "middle_differs",
            "given_l = given_r",
            "same given name, other middle name",
            "cùng tên, khác tên đệm",
            tf="given",
        ),
    ),
)

BIRTH = Comparison(
    "birth_date",
    "The birth date: exact; day and month swapped; one digit off; the same year where one record has only "
    "the year (the elderly often know only that); the same year; else different.",
    (
        Level(
            "null",
            "dob_y_l IS NULL OR dob_y_r IS NULL",
            "a birth date is missing",
            "thiếu ngày sinh",
            null=True,
        ),
        Level("exact", "dob_l = dob_r", "same birth date", "trùng ngày sinh"),
        Level(
            "swapped",
            f"{_both('dob')} AND dob_y_l = dob_y_r AND dob_m_l = dob_d_r AND dob_d_l = dob_m_r",
            "birth day and month swapped",
            "ngày và tháng sinh bị đảo",
        ),
        Level(
            "one_digit",
            # One digit of the eight off: two of year, month and day are the same (a cheap test first).
            # (CASE rather than a cast of the booleans: the same SQL on DuckDB and Spark.)
            f"{_both('dob')} AND (CASE WHEN dob_y_l = dob_y_r THEN 1 ELSE 0 END + CASE WHEN dob_m_l = dob_m_r "
            "THEN 1 ELSE 0 END + CASE WHEN dob_d_l = dob_d_r THEN 1 ELSE 0 END) = 2 AND levenshtein(dob_l, dob_r) = 1",
            "birth dates one digit apart",
            "ngày sinh khác một chữ số",
        ),
        Level(
            "year_only",
            "dob_y_l = dob_y_r AND (dob_l IS NULL OR dob_r IS NULL)",
            "same birth year, one record has only the year",
            "cùng năm sinh, một bản ghi chỉ có năm",
        ),
        Level("same_year", "dob_y_l = dob_y_r", "same birth year only", "chỉ trùng năm sinh"),
    ),
)

ID_NUMBER = Comparison(
    "id_number",
    "The CCCD/CMND number: the same; a CCCD beside an old CMND (a person carries both: neutral); the same "
    "once leading zeros are dropped (Excel); one digit off or two swapped; else different. Missing on either "
    "side is neutral.",
    (
        Level(
            "null", "id_l IS NULL OR id_r IS NULL", "an ID number is missing", "thiếu số giấy tờ", null=True
        ),
        Level("same", "id_l = id_r", "same CCCD", "trùng số CCCD"),
        Level(
            "kinds_differ",
            "id_kind_l <> id_kind_r",
            "a CCCD beside an old CMND",
            "một bên CCCD, một bên CMND",
        ),
        # Standard SQL's TRIM, not ltrim(x, '0'): Spark reads ltrim's two arguments the other way round.
        Level(
            "leading_zeros",
            "TRIM(LEADING '0' FROM id_l) = TRIM(LEADING '0' FROM id_r)",
            "same ID without its leading zeros",
            "trùng số giấy tờ khi bỏ số 0 đầu",
        ),
        Level(
            "one_digit",
            # One digit off or two adjacent digits swapped leave the first four or the last four digits alone.
            "length(id_l) = length(id_r) AND (left(id_l, 4) = left(id_r, 4) OR right(id_l, 4) = right(id_r, 4)) "
            "AND damerau_levenshtein(id_l, id_r) <= 1",
            "ID numbers one digit apart or two digits swapped",
            "số giấy tờ khác một chữ số",
        ),
    ),
)

HOUSEHOLD = Comparison(
    "household",
    "Phone and commune as one household/contact comparison: relatives share both, so counting them apart "
    "would count one household twice and flood the queue with siblings and parents.",
    (
        Level(
            "null",
            "(phone_l IS NULL OR phone_r IS NULL) AND (commune_l IS NULL OR commune_r IS NULL)",
            "no phone or commune to compare",
            "không có số điện thoại hay xã để so",
            null=True,
        ),
        Level(
            "phone_and_commune",
            "phone_l = phone_r AND commune_l = commune_r",
            "same household phone and commune",
            "cùng số điện thoại và xã",
        ),
        Level("phone", "phone_l = phone_r", "same household phone", "cùng số điện thoại"),
        Level("commune", "commune_l = commune_r", "same commune", "cùng xã"),
    ),
)

GENDER = Comparison(
    "gender",
    "Gender: the same, else different; unknown is neutral.",
    (
        Level(
            "null",
            "gender_l IS NULL OR gender_r IS NULL",
            "a gender is missing",
            "thiếu giới tính",
            null=True,
        ),
        Level("same", "gender_l = gender_r", "same gender", "cùng giới tính"),
    ),
)

COMPARISONS: tuple[Comparison, ...] = (SURNAME, GIVEN, BIRTH, ID_NUMBER, HOUSEHOLD, GENDER)

# Blocking: the pairs scored are those sharing one of these. Measured on 20,000 synthetic persons with 5%
# recorded twice (`vaxreg bench linkage`): together they keep 99.6% of the true pairs at 0.9 pairs per
# person; each of phone, names + year + province, surname + date, given + middle + year + province finds
# pairs no other rule does. The ID keeps the pairs imports cannot join (an ID typed on another name);
# surname + given + commune was dropped: 40% of the pairs, none of them found by it alone.
# The three broad rules (a common name and a birth year, or Nguyễn and a birth date) grow with the square of
# a province's size, so each keeps only the pairs that could still be the same person: one birth date is
# the year only, or the two share the month or the day or have them swapped; for surname + date, the middle
# name is shared or missing, or the given names share their first or last letter. Measured on 209,019
# records (200,000 persons): the same blocking recall (99.25%) with 313,000 blocked pairs instead of
# 1,439,000; the rules' equality parts are kept whole, so DuckDB still joins on them. Birth date + commune
# was dropped: on 1,045,781 records it added 516,000 pairs and no true pair the others miss. At that size
# the six rules block 5.15 million pairs (4.9 per record) and keep 99.28% of the true pairs.
_DATE_CLOSE = (
    "(l.dob IS NULL OR r.dob IS NULL OR l.dob_m = r.dob_m OR l.dob_d = r.dob_d OR l.dob_m = r.dob_d)"
)
_NAME_CLOSE = (
    "(l.middle = r.middle OR l.middle IS NULL OR r.middle IS NULL OR left(l.given, 1) = left(r.given, 1) "
    "OR right(l.given, 1) = right(r.given, 1))"
)
# Given + middle + year finds pairs whose surnames differ (the rule before it has the same ones): one edit
# leaves the surname's first or its last letter.
_SURNAME_CLOSE = "(left(l.surname, 1) = left(r.surname, 1) OR right(l.surname, 1) = right(r.surname, 1))"
BLOCKING_RULES: tuple[str, ...] = (
    "l.id = r.id",
    "l.phone = r.phone",
    "l.given = r.given AND l.dob = r.dob",
    "l.surname = r.surname AND l.given = r.given AND l.dob_y = r.dob_y AND l.province = r.province AND "
    + _DATE_CLOSE,
    "l.surname = r.surname AND l.dob = r.dob AND " + _NAME_CLOSE,
    "l.given = r.given AND l.middle = r.middle AND l.dob_y = r.dob_y AND l.province = r.province AND "
    + _SURNAME_CLOSE
    + " AND "
    + _DATE_CLOSE,
)


@cache
def _schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("unique_id", pa.int64()),
            ("surname", pa.string()),
            ("middle", pa.string()),
            ("given", pa.string()),
            ("name_nfc", pa.string()),
            ("name_fold", pa.string()),
            ("dob", pa.string()),
            ("dob_y", pa.int32()),
            ("dob_m", pa.int32()),
            ("dob_d", pa.int32()),
            ("id", pa.string()),
            ("id_kind", pa.string()),
            ("phone", pa.string()),
            ("commune", pa.string()),
            ("province", pa.string()),
            ("gender", pa.string()),
        ]
    )


def _name_parts(
    full_name: str, name_key: str
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    folded = name_key or fold(full_name)
    words = folded.split()
    if not words:
        return None, None, None, None, None
    nfc = " ".join(unicodedata.normalize("NFC", full_name).lower().split()) or None
    surname = words[0]
    given = words[-1] if len(words) > 1 else None
    middle = " ".join(words[1:-1]) or None
    return surname, middle, given, nfc, " ".join(words)


def record_values(row: Sequence[Any]) -> tuple[Any, ...]:
    """One person row (``PERSON_COLUMNS``) as the model's input values (``_schema()``)."""
    (pid, full_name, name_key, year, month, day, gender, id_type, id_number, phone, commune, province) = row
    surname, middle, given, nfc, folded = _name_parts(full_name or "", name_key or "")
    dob = f"{year:04d}{month:02d}{day:02d}" if year and month and day else None
    usable = id_type in USABLE_ID_KINDS and bool(id_number)
    good_phone = bool(phone) and _PHONE.fullmatch(phone) is not None and phone not in _PLACEHOLDER_PHONES
    return (
        pid,
        surname,
        middle,
        given,
        nfc,
        folded,
        dob,
        year,
        month if dob else None,
        day if dob else None,
        id_number if usable else None,
        id_type if usable else None,
        phone if good_phone else None,
        commune or None,
        province or None,
        gender if gender in ("M", "F") else None,
    )


_BATCH = 50_000


def records_table(rows: Iterable[Sequence[Any]], *, truth: dict[int, str] | None = None) -> pa.Table:
    """The model's input: one row per person; with ``truth`` (person id → true person) a ``truth`` column.

    ``rows`` may be a stream (a database cursor): they are turned into Arrow batches of 50,000 as they come,
    so a national run never holds every person as Python values."""
    import pyarrow as pa

    schema = _schema()
    if truth is not None:
        schema = schema.append(pa.field("truth", pa.string()))
    batches: list[pa.RecordBatch] = []
    columns: list[list[Any]] = [[] for _ in schema]

    def flush() -> None:
        if columns[0]:
            if truth is not None:
                columns[-1] = [truth.get(i, f"#{i}") for i in columns[0]]
            arrays = [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
            for column in columns:
                column.clear()

    width = len(_schema())
    for row in rows:
        for column, value in zip(columns[:width], record_values(row), strict=True):
            column.append(value)
        if len(columns[0]) >= _BATCH:
            flush()
    flush()
    return pa.Table.from_batches(batches, schema=schema)


def settings_dict(*, probability_two_random_records_match: float = 1e-5) -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": probability_two_random_records_match,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in BLOCKING_RULES],
        "comparisons": [c.splink() for c in COMPARISONS],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,  # the levels (gamma_*) of each pair, for its evidence
        "additional_columns_to_retain": [],
    }


def baseline_settings_dict(
    *, probability_two_random_records_match: float = 1e-5, engine: str = "duckdb"
) -> dict[str, Any]:
    """The baseline the bench compares against: Splink's standard comparisons on the raw columns (no
    Vietnamese folding, no household comparison), the same blocking; its SQL in the engine's dialect (DuckDB
    quotes columns with "", which Spark reads as strings)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on  # noqa: F401 (block_on kept for readers of this recipe)

    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        blocking_rules_to_generate_predictions=[{"blocking_rule": r} for r in BLOCKING_RULES],
        comparisons=[
            cl.JaroWinklerAtThresholds("name_nfc", [0.9, 0.8]),
            cl.ExactMatch("dob"),
            cl.ExactMatch("id"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("commune"),
            cl.ExactMatch("gender"),
        ],
    )
    return creator.get_settings("spark" if engine == "spark" else "duckdb").as_dict()


def model_path(version: int = MODEL_VERSION) -> Path:
    return DATA_DIR / f"model-v{version}.json"


def model_load(version: int = MODEL_VERSION) -> dict[str, Any]:
    with model_path(version).open(encoding="utf-8") as handle:
        model: dict[str, Any] = json.load(handle)
    return model


@dataclass(frozen=True)
class ScoredPair:
    a: int
    b: int
    probability: float
    weight: float
    levels: dict[str, str]  # comparison → level key
    weights: dict[str, float] = field(default_factory=dict)  # comparison → its match weight in this pair


def _level_keys() -> dict[str, list[str]]:
    """comparison → its level keys by gamma value (Splink numbers levels from the last, -1 for null)."""
    keys: dict[str, list[str]] = {}
    for c in COMPARISONS:
        ordered = [lv.key for lv in c.levels if not lv.null]
        keys[c.name] = ["else", *reversed(ordered)]
    return keys


def evidence_words(levels: dict[str, str]) -> list[tuple[str, str, str]]:
    """(comparison, English words, Vietnamese words) for each comparison of a pair, for the review page."""
    out = []
    for c in COMPARISONS:
        key = levels.get(c.name, "")
        for lv in c.levels:
            if lv.key == key:
                out.append((c.name, lv.words_en, lv.words_vi))
                break
        else:
            out.append((c.name, "different", "khác nhau"))
    return out


# DuckDB spills to disk beyond this rather than growing without bound (its default is 80% of the machine).
DUCKDB_MEMORY_LIMIT = "1GB"


def _levels_from_code(model: dict[str, Any]) -> None:
    """Give the model's levels the code's SQL (matched by comparison and level key): the conditions are the
    code's, like the blocking; a stored model keeps only what training measured (m, u), so a cheaper but
    equivalent condition (a guard before an edit distance) applies to every stored model version."""
    ours = {(c.name, lv.key): lv.sql for c in COMPARISONS for lv in c.levels}
    for comparison in model.get("comparisons", []):
        name = comparison.get("output_column_name")
        for level in comparison.get("comparison_levels", []):
            sql = ours.get((name, level.get("label_for_charts")))
            if sql is not None:
                level["sql_condition"] = sql


def model_for_population(model: dict[str, Any], population: int) -> dict[str, Any]:
    """The model as Splink takes it, for a run over ``population`` persons.

    The prior λ (the probability that two records drawn at random are the same person) is the number of
    true pairs over all pairs: with a steady share of persons recorded twice it falls as 1/(N−1). The stored
    model keeps the λ of its training set and that set's size (``training_records``): a run over another
    larger number of persons scales it down to its own. A smaller one (a demo, a test world, a district)
    keeps the trained λ: a few dozen records say nothing about how often a person is recorded twice, and a
    small database is not made more eager than the model. A model without the size is used as stored."""
    settings = json.loads(json.dumps(model))
    trained_on = settings.pop("training_records", None)
    if trained_on and population > trained_on:
        settings["probability_two_random_records_match"] *= (trained_on - 1) / (population - 1)
    _levels_from_code(settings)
    return settings


class Engine:
    """A Splink linker over person records on one backend (``duckdb`` or ``spark``)."""

    def __init__(
        self,
        table: pa.Table,
        *,
        engine: str = "duckdb",
        model: dict[str, Any] | None = None,
        population: int | None = None,
    ) -> None:
        from splink import Linker

        self.engine = engine
        self.db_api = self._db_api(engine)
        frame = self.db_api.register(self._input(table))
        settings = model_for_population(
            model if model is not None else model_load(), population or table.num_rows
        )
        # Each pair's levels (gamma_*) and weights (mw_*) are kept for the evidence the review page explains.
        settings["retain_matching_columns"] = True
        # The blocking is the code's (measured, see BLOCKING_RULES), whatever model is loaded: the baseline
        # and every model version score the same candidate pairs.
        settings["blocking_rules_to_generate_predictions"] = [{"blocking_rule": r} for r in BLOCKING_RULES]
        settings["retain_intermediate_calculation_columns"] = True
        self.linker = Linker(frame, settings, log_level=None)

    def _db_api(self, engine: str) -> Any:
        if engine == "spark":
            from vaxreg.linkage.spark import spark_db_api

            return spark_db_api()
        import duckdb
        from splink import DuckDBAPI

        connection = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT})
        return DuckDBAPI(connection)

    def _input(self, table: pa.Table) -> Any:
        if self.engine == "spark":
            from vaxreg.linkage.spark import spark_frame

            return spark_frame(table)
        return table

    def predict(self, *, threshold: float = 0.5) -> list[ScoredPair]:
        """Every blocked pair scored at or above ``threshold``, person a < person b."""
        frame = self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        return self._pairs(frame)

    def _pairs(self, frame: Any) -> list[ScoredPair]:
        keys = _level_keys()
        gammas = [f"gamma_{c.name}" for c in COMPARISONS]
        mws = [f"mw_{c.name}" for c in COMPARISONS]
        tf = [f"mw_tf_adj_{c.name}" for c in COMPARISONS if any(lv.tf for lv in c.levels)]
        columns = ", ".join(
            ["unique_id_l", "unique_id_r", "match_probability", "match_weight", *gammas, *mws, *tf]
        )
        result = frame.query_sql(f"SELECT {columns} FROM {{this}}")  # noqa: S608 — our own column names
        out: list[ScoredPair] = []
        for row in result.as_record_list():
            a, b = int(row["unique_id_l"]), int(row["unique_id_r"])
            levels, weights = {}, {}
            for c in COMPARISONS:
                gamma = int(row[f"gamma_{c.name}"])
                levels[c.name] = "null" if gamma < 0 else keys[c.name][gamma]
                weights[c.name] = float(row[f"mw_{c.name}"]) + float(row.get(f"mw_tf_adj_{c.name}") or 0.0)
            out.append(
                ScoredPair(
                    min(a, b),
                    max(a, b),
                    float(row["match_probability"]),
                    float(row["match_weight"]),
                    levels,
                    weights,
                )
            )
        return out

    def probabilities(self, frame: Any) -> list[tuple[int, int, float]]:
        """(person a, person b, probability) of each predicted pair, a < b."""
        rows = frame.query_sql(
            "SELECT unique_id_l, unique_id_r, match_probability FROM {this}"
        ).as_record_list()
        return [
            (
                min(int(r["unique_id_l"]), int(r["unique_id_r"])),
                max(int(r["unique_id_l"]), int(r["unique_id_r"])),
                float(r["match_probability"]),
            )
            for r in rows
        ]

    def predict_frame(self, *, threshold: float) -> Any:
        return self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")

    def clusters(self, frame: Any, *, threshold: float = REVIEW_THRESHOLD) -> dict[int, int]:
        """person id → cluster id (the smallest person id of its connected component)."""
        clustered = self.linker.clustering.cluster_pairwise_predictions_at_threshold(
            frame, threshold_match_probability=threshold
        )
        rows = clustered.query_sql("SELECT unique_id, cluster_id FROM {this}").as_record_list()
        return {int(r["unique_id"]): r["cluster_id"] for r in rows}


def train(
    table: pa.Table, *, engine: str = "duckdb", baseline: bool = False, seed: int = 1
) -> dict[str, Any]:
    """Train on labelled synthetic records (a ``truth`` column): u by random sampling, m from the labels, the
    prior from the labelled pairs. Returns the model (a Splink settings dict with its parameters)."""
    truth = table.column("truth").to_pylist()
    n = len(truth)
    sizes: dict[str, int] = {}
    for t in truth:
        sizes[t] = sizes.get(t, 0) + 1
    true_pairs = sum(k * (k - 1) // 2 for k in sizes.values())
    prior = max(true_pairs, 1) / max(n * (n - 1) // 2, 1)
    if baseline:
        settings = baseline_settings_dict(probability_two_random_records_match=prior, engine=engine)
    else:
        settings = settings_dict(probability_two_random_records_match=prior)
    trainer = Engine(table, engine=engine, model=settings)
    trainer.linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    trainer.linker.training.estimate_m_from_label_column("truth")
    model: dict[str, Any] = calibrate(trainer.linker.misc.save_model_to_json())
    model["training_records"] = n
    model["linker_uid"] = f"vaxreg-v{MODEL_VERSION}" if not baseline else "baseline"
    return model


# What training cannot see in labelled synthetic data, set by hand (documented in each level's weight):
M_UNSEEN = 1e-3  # a level no labelled duplicate fell into: rare among duplicates (a twin's other given name)
U_UNSEEN = 1e-6  # a level no random pair fell into: rare among different people (the same CCCD)
# A shared phone and commune is a household's, not a person's: relatives share both, so the household
# evidence is capped (log2 Bayes factor) rather than taken at the value random pairs would give it.
HOUSEHOLD_CAP = 6.0
# Levels that say nothing either way, whatever the synthetic data's mix: a CCCD beside an old CMND (people
# carried both; the generator's second records often hold the CMND, which would teach it as evidence).
NEUTRAL_LEVELS = frozenset({"kinds_differ"})


def calibrate(model: dict[str, Any]) -> dict[str, Any]:
    """Fill the levels training left without m or u, and cap the household comparison's evidence."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m = level.get("m_probability") or M_UNSEEN
            u = level.get("u_probability") or U_UNSEEN
            if comparison["output_column_name"] == HOUSEHOLD.name and m / u > 2**HOUSEHOLD_CAP:
                u = m / 2**HOUSEHOLD_CAP
            if level.get("label_for_charts") in NEUTRAL_LEVELS:
                u = m
            level["m_probability"], level["u_probability"] = m, u
    return model


def model_save(model: dict[str, Any], version: int = MODEL_VERSION) -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    path = model_path(version)
    path.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
