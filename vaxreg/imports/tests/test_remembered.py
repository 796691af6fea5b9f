"""The hashes a first load keeps of what it wrote: every key added is found again, with its values in the
order they were added, however many runs they were merged from; a hash shared by two keys names both."""

from vaxreg.imports.remembered import CreatedRows, HashedKeys


def test_every_hash_added_is_seen_again_across_merged_runs() -> None:
    keys = HashedKeys()
    for start in range(0, 10_000, 700):  # 15 runs of 700 (the last shorter), merged as they come
        keys.add([hash(("facility", n)) for n in range(start, min(start + 700, 10_000))])
    assert len(keys) == 10_000
    assert keys.nbytes == 8 * 10_000
    assert keys.seen([hash(("facility", n)) for n in range(10_000)]).all()
    assert not keys.seen([hash(("facility", n)) for n in range(10_000, 20_000)]).any()
    assert keys.any_seen([hash(("facility", 20_001)), hash(("facility", 9_999))])
    assert not keys.any_seen([])


def test_the_values_of_one_hash_come_back_in_the_order_they_were_added() -> None:
    keys = HashedKeys(with_values=True)
    keys.add([1, 2, 3], [10, 20, 30])
    keys.add([2, 4], [21, 40])
    keys.add([2], [22])
    assert keys.values([2, 3, 5]) == {2: [20, 21, 22], 3: [30]}


class Colliding:
    """A key whose hash is another key's."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Colliding) and other.name == self.name


def test_two_keys_with_one_hash_name_both_rows_with_their_homes() -> None:
    rows = CreatedRows()
    rows.add({Colliding("An"): 5, ("Bình", 1990): 6}, {5: "01", 6: "79"})
    rows.add({Colliding("Cúc"): 9}, {9: "79"})
    assert rows.candidates([Colliding("Dũng")]) == {"01": {5}, "79": {9}}
    assert rows.candidates([("Bình", 1990)]) == {"79": {6}}
    assert rows.candidates([("Bình", 1991)]) == {}
    assert len(rows) == 3
