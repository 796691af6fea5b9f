"""Linking a few persons against everyone fetches exactly the persons the blocking rules could pair them
with: every partner a full run's blocking gives them, whether the database is asked (a few persons) or the
persons are read once (many)."""

from pathlib import Path
from typing import Any

import duckdb
import pytest

from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.linkage.engine import BLOCKING_RULES
from vaxreg.linkage.services import _candidates, linkage_records
from vaxreg.places.services import facilities_generate
from vaxreg.synth.defects import DefectRates
from vaxreg.synth.generator import KinRates
from vaxreg.synth.services import synth_write

pytestmark = pytest.mark.django_db


def _blocked_partners(table: Any, ids: set[int]) -> set[int]:
    con = duckdb.connect()
    con.register("t", table)
    partners: set[int] = set()
    for rule in BLOCKING_RULES:
        pairs = con.execute(
            f"SELECT l.unique_id, r.unique_id FROM t l JOIN t r ON {rule} AND l.unique_id < r.unique_id"  # noqa: S608
        ).fetchall()
        for a, b in pairs:
            if a in ids:
                partners.add(b)
            if b in ids:
                partners.add(a)
    return partners


def test_the_candidates_hold_every_partner_the_blocking_gives(
    reference_data: Any, tmp_path: Path, settings: Any
) -> None:
    settings.VAXREG_LINKAGE_ON_IMPORT = False
    facilities_generate(province_code="46")
    out = tmp_path / "doses.csv"
    synth_write(
        out=out,
        persons=600,
        province_code="46",
        seed=5,
        rates=DefectRates(duplicate_suspect=0.1),
        kin=KinRates(relatives=0.1),
        parallel=False,
    )
    import_batch_run(batch_id=import_batch_create(file_name=out.name, path=out).pk)
    table = linkage_records()
    every = sorted(table.column("unique_id").to_pylist())
    touched = set(every[::4])
    partners = _blocked_partners(table, touched)
    assert len(partners - touched) >= 20  # the world has pairs across the touched and the others

    asked = {r[0] for r in _candidates(sorted(touched), ask_up_to=len(touched))}
    read = {r[0] for r in _candidates(sorted(touched), ask_up_to=0)}
    assert touched <= asked and partners <= asked
    assert touched <= read and partners <= read
    # Narrow: far from everyone.
    assert len(read) < 0.8 * len(every)
