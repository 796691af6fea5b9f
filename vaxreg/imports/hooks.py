"""What runs after an import, inside its transaction: the rooms above imports register here.

Imports sit below quality and verification, so they cannot call them; those apps add themselves in their
``AppConfig.ready`` (the higher room calls the lower one), in the order of INSTALLED_APPS: the rules
re-check the touched persons first, then the verification cases follow their findings.
"""

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# (batch id, ids of the persons the import touched, the provinces of those persons)
AfterImport = Callable[[int, set[int], set[str]], None]

_handlers: list[tuple[str, AfterImport]] = []


def after_import_register(name: str, handler: AfterImport) -> None:
    """Register once per name (a second ``ready`` call, as in some test runners, changes nothing)."""
    if all(existing != name for existing, _ in _handlers):
        _handlers.append((name, handler))


def after_import_run(*, batch_id: int, person_ids: set[int], provinces: set[str]) -> dict[str, float]:
    """Run every handler; the seconds each took (also logged: what makes an import slow at scale)."""
    seconds: dict[str, float] = {}
    for name, handler in _handlers:
        started = time.perf_counter()
        handler(batch_id, person_ids, provinces)
        seconds[name] = time.perf_counter() - started
    logger.info(
        "after import #%s (%s persons): %s",
        batch_id,
        len(person_ids),
        ", ".join(f"{name} {s:.2f} s" for name, s in seconds.items()),
        extra={"batch_id": batch_id, "after_import_seconds": seconds},
    )
    return seconds
