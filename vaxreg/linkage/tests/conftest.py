from vaxreg.testing.world import world  # noqa: F401  (the shared fixture world)
