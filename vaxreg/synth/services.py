"""Writing a synthetic dose file (SPEC §3 template) and its ground truth for one province."""

import gc
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vaxreg.core.forking import can_fork, forked_map
from vaxreg.core.refusals import Refusal
from vaxreg.core.tables import TableWriter, csv_text
from vaxreg.synth.defects import DefectRates
from vaxreg.synth.generator import (
    BLOCK_PERSONS,
    FACILITY,
    MAX_BLOCKS,
    PERSONS_HEADERS,
    SRID,
    DoseFileGenerator,
    KinRates,
    SynthPlace,
    SynthRow,
    TruthRow,
)
from vaxreg.synth.selectors import synth_place_get
from vaxreg.synth.writers import TruthSink, row_sink_open


class SynthError(Refusal, ValueError):
    """The file cannot be generated; the message is in Vietnamese and English."""

    def __str__(self) -> str:
        return self.bilingual()


@dataclass(frozen=True)
class SynthSummary:
    rows: int
    persons: int
    defects_by_code: dict[str, int]  # ground-truth rows per defect code
    out: Path
    truth_out: Path
    defective_rows: int = 0  # dose rows with at least one ground-truth row
    defective_persons: int = 0  # persons generated with a defect (ID_SHARED donors not counted)
    persons_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def defective_row_share(self) -> float:
        return self.defective_rows / self.rows if self.rows else 0.0


@dataclass
class _Block:
    """One block's output: CSV text (or rows, for .xlsx), the truth as CSV text, and its counts."""

    csv_text: str = ""
    rows: list[SynthRow] = field(default_factory=list)
    truth_text: str = ""
    persons_text: str = ""
    row_count: int = 0
    defective_rows: int = 0
    truth_by_code: Counter[str] = field(default_factory=Counter)
    persons_by_code: Counter[str] = field(default_factory=Counter)


def truth_path_default(out: Path) -> Path:
    return out.with_name(f"{out.stem}.truth.csv")


# Set in each worker process (and in this one for inline runs): the place is sent once, not per block.
_job: tuple[SynthPlace, int, DefectRates | None, bool, KinRates | None, bool] | None = None


def _job_set(
    place: SynthPlace,
    seed: int,
    rates: DefectRates | None,
    as_csv: bool,
    kin: KinRates | None = None,
    with_persons: bool = False,
) -> None:
    global _job
    _job = (place, seed, rates, as_csv, kin, with_persons)


def _block_generate(task: tuple[int, int]) -> _Block:
    # The generator makes no reference cycles, and the cyclic collector would rescan the block's
    # growing list of rows again and again: switching it off saves about a quarter of the time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _block_build(*task)
    finally:
        if enabled:
            gc.enable()


def _block_build(block: int, count: int) -> _Block:
    assert _job is not None
    place, seed, rates, as_csv, kin, with_persons = _job
    generator = DoseFileGenerator(place=place, seed=seed, rates=rates, block=block, kin=kin)
    result = _Block()
    rows: list[SynthRow] = []
    truth: list[TruthRow] = []
    owners: list[tuple[str, str, str]] = []
    for person in generator.persons(count):
        rows.extend(person.rows)
        if with_persons:
            owners.extend((row.cells[FACILITY], row.cells[SRID], person.key) for row in person.rows)
        if person.truth:
            truth.extend(person.truth)
            # A row key belongs to one person and an ID_SHARED donor is used once: no double count.
            result.defective_rows += len({t[:2] for t in person.truth})
            result.truth_by_code.update(t[3] for t in person.truth)
        if person.defect:
            result.persons_by_code[person.defect] += 1
    result.row_count = len(rows)
    result.truth_text = csv_text(truth, line_end="\n")
    if with_persons:
        result.persons_text = csv_text(owners, line_end="\n")
    if as_csv:
        # Formatting the CSV here lets the workers share that work too; the parent only writes text.
        result.csv_text = csv_text([row.cells for row in rows])
    else:
        result.rows = rows
    return result


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blocks_run(tasks: list[tuple[int, int]], *, parallel: bool) -> Iterator[_Block]:
    """Blocks in order; with several CPUs they are generated in worker processes, with the same result."""
    workers = min(_workers(), len(tasks))
    if not parallel or workers < 2 or not can_fork():
        for task in tasks:
            yield _block_generate(task)
        return
    # Fork: the workers inherit the loaded tables and never touch the database connection.
    assert _job is not None
    yield from forked_map(_block_generate, tasks, workers=workers, initializer=_job_set, initargs=_job)


def synth_write(
    *,
    out: Path,
    persons: int,
    province_code: str,
    seed: int = 0,
    rates: DefectRates | None = None,
    truth_out: Path | None = None,
    parallel: bool = True,
    kin: KinRates | None = None,
    persons_out: Path | None = None,
) -> SynthSummary:
    """Generate ``persons`` people of the province with their doses and write them to ``out``.

    ``out`` ends in .csv (UTF-8 with BOM) or .xlsx; the ground truth goes to ``truth_out`` (default
    ``<out stem>.truth.csv`` beside it). Reads the province's communes and facilities from the database;
    the same seed and database give the same rows (and a byte-identical CSV), with or without ``parallel``.
    ``kin`` adds relatives, namesakes and realistic second records (record linkage); ``persons_out`` gets
    every row's true person (facility code, source record id, person key).
    """
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise SynthError(
            f"Tệp ra phải là .csv hoặc .xlsx: {out.name}",
            f"The output file must be .csv or .xlsx: {out.name}",
        )
    if not 0 <= persons <= BLOCK_PERSONS * MAX_BLOCKS:
        raise SynthError(
            f"Số người phải từ 0 đến {BLOCK_PERSONS * MAX_BLOCKS}",
            f"The number of persons must be within 0–{BLOCK_PERSONS * MAX_BLOCKS}",
        )
    truth_out = Path(truth_out) if truth_out is not None else truth_path_default(out)
    place = synth_place_get(province_code)
    if not place.communes:
        raise SynthError(
            f"Tỉnh {province_code} chưa có xã nào: hãy chạy `vaxreg reference load`.",
            f"Province {province_code} has no communes: run `vaxreg reference load`.",
        )
    if not place.facilities:
        raise SynthError(
            f"Tỉnh {province_code} chưa có cơ sở tiêm: hãy chạy `vaxreg reference load` rồi `vaxreg facilities load "
            f"FILE.csv`, hoặc thêm --create-facilities.",
            f"Province {province_code} has no facilities: run "
            "`vaxreg reference load` and `vaxreg facilities load FILE.csv`, or pass --create-facilities.",
        )
    as_csv = out.suffix.lower() == ".csv"
    tasks = [
        (b, min(BLOCK_PERSONS, persons - b * BLOCK_PERSONS)) for b in range(-(-persons // BLOCK_PERSONS))
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    truth_out.parent.mkdir(parents=True, exist_ok=True)
    truth_by_code: Counter[str] = Counter()
    persons_by_code: Counter[str] = Counter()
    rows = defective_rows = 0
    _job_set(place, seed, rates, as_csv, kin, persons_out is not None)
    persons_sink = (
        TableWriter(PERSONS_HEADERS, fmt="csv", out=Path(persons_out), escape=False, bom=False, line_end="\n")
        if persons_out is not None
        else None
    )
    with row_sink_open(out) as row_sink, TruthSink(truth_out) as truth_sink:
        for block in _blocks_run(tasks, parallel=parallel):
            if as_csv:
                row_sink.write_text(block.csv_text)
            else:
                row_sink.write(block.rows)
            truth_sink.write_text(block.truth_text)
            if persons_sink is not None:
                persons_sink.write_text(block.persons_text)
            rows += block.row_count
            defective_rows += block.defective_rows
            truth_by_code.update(block.truth_by_code)
            persons_by_code.update(block.persons_by_code)
    if persons_sink is not None:
        persons_sink.__exit__(None, None, None)
    return SynthSummary(
        rows=rows,
        persons=persons,
        defects_by_code=dict(sorted(truth_by_code.items())),
        out=out,
        truth_out=truth_out,
        defective_rows=defective_rows,
        defective_persons=sum(persons_by_code.values()),
        persons_by_code=dict(sorted(persons_by_code.items())),
    )
