"""The chart library is the pinned file from the npm registry, shipped with its licence, served by us."""

import hashlib
from pathlib import Path

from vaxreg.dashboards.charts import CHART_JS, CHART_JS_SHA256

STATIC = Path(__file__).resolve().parents[1] / "static"


def test_the_vendored_chart_library_is_the_pinned_file_with_its_licence() -> None:
    library = STATIC / CHART_JS
    assert hashlib.sha256(library.read_bytes()).hexdigest() == CHART_JS_SHA256
    licence = library.with_name(library.name.replace(".umd.min.js", ".LICENSE.md"))
    assert "MIT License" in licence.read_text(encoding="utf-8")
    assert library.name in (library.parent / "README.md").read_text(encoding="utf-8")
