"""The linkage app's tables: suspected pairs and their decisions (`pairs`), merges and their undo (`merges`)."""

from vaxreg.linkage.models.merges import MergeSource, PersonMerge

__all__ = ["MergeSource", "PersonMerge"]
