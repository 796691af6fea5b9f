from vaxreg.testing.world import world

__all__ = ["world"]
