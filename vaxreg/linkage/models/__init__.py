"""The linkage app's tables: suspected pairs and their decisions (`pairs`), merges and their undo (`merges`)."""

from vaxreg.linkage.models.merges import MergeSource, PersonMerge
from vaxreg.linkage.models.pairs import PairState, SuspectedPair

__all__ = ["MergeSource", "PairState", "PersonMerge", "SuspectedPair"]
