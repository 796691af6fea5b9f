from typing import Any

from django import template
from django.utils.translation import get_language

from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.web.labels import label as label_of

register = template.Library()


@register.filter
def label(code: str | None, kind: str) -> str:
    """{{ user.role|label:"role" }}: the translated name of a stored code."""
    return label_of(kind, code)


@register.filter
def localized(message: dict[str, Any] | None, stem: str = "message") -> str:
    """{{ reason|localized }}: ``message_vi`` or ``message_en`` of a bilingual dict, by the page language."""
    if not message:
        return ""
    lang = "en" if (get_language() or "vi").startswith("en") else "vi"
    return str(message.get(f"{stem}_{lang}") or message.get(f"{stem}_vi") or message.get(stem) or "")


@register.filter
def can(user: Any, capability: str) -> bool:
    """{% if user|can:"import_run" %}: whether the user's role holds the capability (accounts.permissions)."""
    return user_can(user, Capability(capability))
