from typing import Any

from django import template
from django.template.base import FilterExpression, Parser, Token
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language

from vaxreg.core.labels import label as label_of

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
def can_import(user: Any) -> bool:
    from vaxreg.imports.views import IMPORT_ROLES

    return getattr(user, "role", None) in IMPORT_ROLES


class TableNode(template.Node):
    def __init__(
        self, headers: list[FilterExpression], options: dict[str, FilterExpression], body: template.NodeList
    ) -> None:
        self.headers, self.options, self.body = headers, options, body

    def render(self, context: template.Context) -> str:
        options = {name: value.resolve(context) for name, value in self.options.items()}
        if "when" in options and not options["when"]:
            return format_html("<p>{}</p>", options.get("empty", ""))
        heads = format_html_join(
            "", '\n      <th scope="col">{}</th>', ((h.resolve(context),) for h in self.headers)
        )
        return format_html(
            '<div class="table-wrap">\n  <table{}>\n    <thead><tr>{}\n    </tr></thead>\n    <tbody>{}</tbody>\n'
            "  </table>\n  </div>",
            format_html(' class="{}"', options["class"]) if options.get("class") else "",
            heads,
            self.body.render(context),
        )


TABLE_OPTIONS = ("class", "when", "empty")


@register.tag
def table(parser: Parser, token: Token) -> TableNode:
    """The page kit's table, around the rows it holds: the scrolling wrapper, the table and its column
    headers. ``{% table _("Date") _("Vaccine") when=doses empty=_("No dose.") class="doses" %}<tr>…</tr>
    {% endtable %}``: with ``when`` empty, the ``empty`` sentence in a paragraph instead of the table."""
    headers: list[FilterExpression] = []
    options: dict[str, FilterExpression] = {}
    for bit in token.split_contents()[1:]:
        name, equals, value = bit.partition("=")
        if equals and name in TABLE_OPTIONS:
            options[name] = parser.compile_filter(value)
        else:
            headers.append(parser.compile_filter(bit))
    body = parser.parse(("endtable",))
    parser.delete_first_token()
    return TableNode(headers, options, body)
