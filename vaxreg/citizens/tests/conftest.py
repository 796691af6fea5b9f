from collections.abc import Iterator

import pytest

from vaxreg.core.messaging import memory_outbox
from vaxreg.testing.world import world

__all__ = ["world"]


@pytest.fixture(autouse=True)
def outbox() -> Iterator[list]:
    """The messages sent during the test (the memory backend keeps them)."""
    memory_outbox.clear()
    yield memory_outbox
    memory_outbox.clear()
