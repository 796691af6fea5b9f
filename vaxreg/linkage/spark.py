"""The Spark backend of the linkage engine (issue 20, part 3) — not built yet.

`--engine spark` is accepted so that operators see the option and a clear answer; scoring on Splink's
Spark backend (pyspark as an optional dependency group, the master URL as a setting) is still to do.
"""

from typing import Any, NoReturn

from vaxreg.core.refusals import Refusal


class SparkUnavailable(Refusal):
    """The Spark engine was asked for but is not available."""


def _refuse() -> NoReturn:
    raise SparkUnavailable(
        "Chưa có động cơ Spark cho việc tìm trùng người: hãy dùng --engine duckdb.",
        "The Spark engine of record linkage is not built yet: use --engine duckdb.",
        field="engine",
    )


def spark_db_api() -> Any:
    _refuse()


def spark_frame(table: Any) -> Any:
    _refuse()
