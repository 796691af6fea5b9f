"""The linkage app's tables: suspected pairs and their decisions (`pairs`), merges and their undo (`merges`)."""
