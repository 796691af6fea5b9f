from vaxreg.core.testing import world  # noqa: F401  (the shared fixture world)
