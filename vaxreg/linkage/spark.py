"""The Spark backend of the linkage engine (issue 20, part 3): the same model and code on Splink's SparkAPI.

``pyspark`` is an optional dependency group (``uv sync --group spark``) and needs a Java runtime; the master
is ``VAXREG_SPARK_MASTER`` (``local[2]``: Spark inside this process on two cores; ``spark://host:7077`` a
cluster). The session is started once per process and registers Splink's similarity UDFs from the jar Splink
ships (``damerau_levenshtein`` among them); ``levenshtein``, ``length`` and
``TRIM(LEADING ...)`` are Spark built-ins.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from typing import Any

from django.conf import settings

from vaxreg.core.refusals import Refusal


class SparkUnavailable(Refusal):
    """The Spark engine was asked for but is not available."""


def spark_missing() -> str:
    """Why Spark cannot run here ("" when it can): pyspark not installed, or no Java runtime."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (uv sync --group spark)"
    if not shutil.which("java"):
        return "no Java runtime (java) on the PATH (apt-get install default-jre-headless)"
    return ""


def _require() -> None:
    missing = spark_missing()
    if missing:
        raise SparkUnavailable(
            f"Không chạy được động cơ Spark: {missing}. Hãy dùng --engine duckdb.",
            f"The Spark engine cannot run here: {missing}. Use --engine duckdb.",
            field="engine",
        )


@cache
def spark_session() -> Any:
    """The process's Spark session on ``VAXREG_SPARK_MASTER``, with Splink's similarity jar."""
    _require()
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    master = settings.VAXREG_SPARK_MASTER
    local = master.startswith("local")
    builder = (
        SparkSession.builder.master(master)
        .appName("vaxreg-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # Splink repartitions its intermediate tables to half the shuffle partitions: few on one machine.
        .config("spark.sql.shuffle.partitions", "4" if local else "200")
        .config("spark.default.parallelism", "4" if local else "200")
    )
    if local:
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # Splink writes its intermediate tables to parquet under the checkpoint folder (breaking Spark's lineage).
    checkpoints = tempfile.mkdtemp(prefix="vaxreg-spark-")
    atexit.register(shutil.rmtree, checkpoints, ignore_errors=True)
    session.sparkContext.setCheckpointDir(checkpoints)
    return session


def spark_db_api() -> Any:
    _require()
    from splink.backends.spark import SparkAPI

    return SparkAPI(spark_session=spark_session())


def spark_frame(table: Any) -> Any:
    """The person table (pyarrow) as a Spark DataFrame."""
    return spark_session().createDataFrame(table)
