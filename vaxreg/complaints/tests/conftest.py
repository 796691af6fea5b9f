from vaxreg.core.testing import world

__all__ = ["world"]
