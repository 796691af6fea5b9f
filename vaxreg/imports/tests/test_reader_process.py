"""The process that reads and normalises a file hands its chunks over whole, in order, and its failures too."""

import multiprocessing
import os
import threading
from collections.abc import Iterator

import pytest

from vaxreg.imports.pipeline import CHUNKS_AHEAD, ImportReaderFailed, _Chunk, _from_child_process


def _chunks(count: int, *, fail_after: int | None = None) -> Iterator[_Chunk]:
    for number in range(count):
        if fail_after is not None and number == fail_after:
            raise ValueError(f"cell unreadable at chunk {number}")
        yield _Chunk(rows_read=number, rows_blank=os.getpid())


def test_every_chunk_arrives_in_order_from_another_process() -> None:
    received = list(_from_child_process(_chunks(CHUNKS_AHEAD * 5)))

    assert [chunk.rows_read for chunk in received] == list(range(CHUNKS_AHEAD * 5))
    assert {chunk.rows_blank for chunk in received} != {os.getpid()}  # made in the child


def test_a_failure_while_reading_stops_the_import_with_its_traceback() -> None:
    received = []
    with pytest.raises(ImportReaderFailed, match="cell unreadable at chunk 3"):
        for chunk in _from_child_process(_chunks(10, fail_after=3)):
            received.append(chunk.rows_read)

    assert received == [0, 1, 2]  # everything before the failure came, nothing after


def test_a_writer_that_stops_early_ends_the_reading_process() -> None:
    chunks = _from_child_process(_chunks(1000))
    assert next(chunks).rows_read == 0
    chunks.close()  # the writer failed: the generator is closed

    assert not [p for p in multiprocessing.active_children() if p.name == "vaxreg-import-reader"]
    assert not [t for t in threading.enumerate() if t.name == "vaxreg-import-receiver"]
