from vaxreg.imports.tests.conftest import places  # noqa: F401  (the import tests' places)
from vaxreg.testing.world import world  # noqa: F401  (the shared fixture world)
