from typing import Any

from django import template

from vaxreg.core.i18n import in_language, is_english
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
    lang = "en" if is_english() else "vi"
    return str(message.get(f"{stem}_{lang}") or message.get(f"{stem}_vi") or message.get(stem) or "")


@register.simple_tag
def pair(vi: str, en: str) -> str:
    """{% pair reason.0 reason.1 %}: one half of stored words kept in both languages, by the page language."""
    return in_language(vi, en)


@register.filter
def can_import(user: Any) -> bool:
    from vaxreg.web.views import IMPORT_ROLES

    return getattr(user, "role", None) in IMPORT_ROLES
