"""What runs after a person's record was corrected, inside the correction's transaction.

Corrections sit below certificates, so they cannot call them; the higher rooms register here in their
``AppConfig.ready`` (e.g. certificates revoke and re-issue what the correction made stale).
"""

from collections.abc import Callable

AfterCorrection = Callable[[int, int | None], None]  # (id of the corrected person, actor id)

_handlers: list[tuple[str, AfterCorrection]] = []


def after_correction_register(name: str, handler: AfterCorrection) -> None:
    """Register once per name (a second ``ready`` call changes nothing)."""
    if all(existing != name for existing, _ in _handlers):
        _handlers.append((name, handler))


def after_correction_run(*, person_id: int, actor_id: int | None) -> None:
    for _, handler in _handlers:
        handler(person_id, actor_id)
