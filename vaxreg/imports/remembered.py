"""What a large import remembers of the rows it has written, in a few bytes a key.

A first load into empty tables leaves their secondary indexes off until its end (``pipeline.DeferredIndexes``), so
it finds again what it wrote from memory: the persons it created, by their match keys, and the doses, by their
source-record keys. Kept as Python sets and dicts of the keys themselves those take 100 to 200 bytes a key, and
a load of 10 million persons would need several gigabytes; kept as 64-bit hashes in sorted numpy arrays they take
8 bytes a key (16 with a value). On a Citus cluster this is also what keeps each row from being looked up on
every shard: only a key whose hash was seen is read again, from the shard its value names.
"""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Int64s = npt.NDArray[np.int64]


class HashedKeys:
    """Keys as 64-bit hashes (Python's ``hash``, stable within a process), each with an optional 64-bit value.

    A hash only says "maybe": two keys can share one, so whoever asks checks the key itself (the database row a
    value names, or the row the file repeats). New hashes go into a sorted run of their own; a run is merged
    with the one before it while that one is no longer, as a binary counter carries, so there are at most
    log2(n) runs to search and each hash is moved about log2(n) times.
    """

    def __init__(self, *, with_values: bool = False) -> None:
        self.with_values = with_values
        self._runs: list[tuple[Int64s, Int64s | None]] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        return sum(h.nbytes + (0 if v is None else v.nbytes) for h, v in self._runs)

    def add(self, hashes: Collection[int], values: Sequence[int] | None = None) -> None:
        """Remember these hashes (and, when the keys have values, the value of each, in the same order)."""
        if not hashes:
            return
        if self.with_values != (values is not None):
            raise ValueError("values go with every hash of a HashedKeys made with_values, and only there")
        run_hashes = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
        run_values = None if values is None else np.fromiter(values, dtype=np.int64, count=len(values))
        self.count += len(run_hashes)
        # Stable sorts throughout: values under one hash stay in the order they were added.
        while True:
            order = np.argsort(run_hashes, kind="stable")
            run_hashes = run_hashes[order]
            run_values = None if run_values is None else run_values[order]
            if not self._runs or len(self._runs[-1][0]) > len(run_hashes):
                break
            earlier_hashes, earlier_values = self._runs.pop()
            run_hashes = np.concatenate((earlier_hashes, run_hashes))
            if run_values is not None and earlier_values is not None:
                run_values = np.concatenate((earlier_values, run_values))
        self._runs.append((run_hashes, run_values))

    def _ranges(self, hashes: Collection[int]) -> tuple[Int64s, list[tuple[Int64s, Int64s, Int64s | None]]]:
        asked = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
        ranges = []
        for run_hashes, run_values in self._runs:
            ranges.append(
                (
                    np.searchsorted(run_hashes, asked, side="left"),
                    np.searchsorted(run_hashes, asked, side="right"),
                    run_values,
                )
            )
        return asked, ranges

    def seen(self, hashes: Collection[int]) -> npt.NDArray[np.bool_]:
        """For each of ``hashes``, in order: was it added?"""
        asked, ranges = self._ranges(hashes)
        found = np.zeros(len(asked), dtype=bool)
        for left, right, _ in ranges:
            found |= right > left
        return found

    def any_seen(self, hashes: Collection[int]) -> bool:
        return bool(hashes) and bool(self.seen(hashes).any())

    def values(self, hashes: Collection[int]) -> dict[int, list[int]]:
        """The values added under each of ``hashes`` that was added, in the order they were added."""
        if not self.with_values:
            raise ValueError("a HashedKeys made without values")
        asked, ranges = self._ranges(hashes)
        found: dict[int, list[int]] = {}
        for left, right, run_values in ranges:
            assert run_values is not None
            for position in np.nonzero(right > left)[0]:
                found.setdefault(int(asked[position]), []).extend(
                    int(value) for value in run_values[left[position] : right[position]]
                )
        return found


class CreatedRows:
    """The rows an import created, found again by their keys: each key's hash with the row's id and home (the
    shard it is stored on), 16 bytes a key. ``candidates`` says which rows may hold a key; the caller reads them
    by their primary key and compares the keys themselves."""

    HOME_BITS = 16

    def __init__(self) -> None:
        self._keys = HashedKeys(with_values=True)
        self._homes: list[str] = []
        self._home_numbers: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes

    def add(self, ids_by_key: Mapping[Any, int], homes: Mapping[int, str]) -> None:
        values = []
        for row_id in ids_by_key.values():
            home = homes[row_id]
            number = self._home_numbers.get(home)
            if number is None:
                number = self._home_numbers[home] = len(self._homes)
                self._homes.append(home)
            values.append(row_id << self.HOME_BITS | number)
        self._keys.add([hash(key) for key in ids_by_key], values)

    def candidates(self, keys: Collection[Any]) -> dict[str, set[int]]:
        """Home → ids of the rows that may hold one of ``keys``."""
        found: dict[str, set[int]] = {}
        mask = (1 << self.HOME_BITS) - 1
        for values in self._keys.values([hash(key) for key in keys]).values():
            for value in values:
                found.setdefault(self._homes[value & mask], set()).add(value >> self.HOME_BITS)
        return found
