"""What runs after an import, inside its transaction: the rooms above imports register here.

Imports sit below quality and verification, so they cannot call them; those apps add themselves in their
``AppConfig.ready`` (the higher room calls the lower one), in the order of INSTALLED_APPS: the rules
re-check the touched persons first, then the verification cases follow their findings.
"""

from collections.abc import Callable

# (batch id, ids of the persons the import touched, the provinces of those persons)
AfterImport = Callable[[int, set[int], set[str]], None]

_handlers: list[tuple[str, AfterImport]] = []


def after_import_register(name: str, handler: AfterImport) -> None:
    """Register once per name (a second ``ready`` call, as in some test runners, changes nothing)."""
    if all(existing != name for existing, _ in _handlers):
        _handlers.append((name, handler))


def after_import_run(*, batch_id: int, person_ids: set[int], provinces: set[str]) -> None:
    for _, handler in _handlers:
        handler(batch_id, person_ids, provinces)
