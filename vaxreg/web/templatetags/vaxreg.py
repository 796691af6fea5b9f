from typing import Any

from django import template
from django.template.base import FilterExpression, Parser, Token
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core.i18n import in_language, is_english, label_both
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
    lang = "en" if is_english() else "vi"
    return str(message.get(f"{stem}_{lang}") or message.get(f"{stem}_vi") or message.get(stem) or "")


@register.simple_tag
def pair(vi: str, en: str) -> str:
    """{% pair reason.0 reason.1 %}: one half of stored words kept in both languages, by the page language."""
    return in_language(vi, en)


@register.simple_tag
def choice_both(instance: Any, field: str) -> str:
    """{% choice_both case "state" %}: "tiếng Việt / English" of a model field's choice, for pages read in both."""
    label = dict(instance._meta.get_field(field).flatchoices).get(getattr(instance, field))
    return label_both(label) if label is not None else ""


@register.filter
def can(user: Any, capability: str) -> bool:
    """{% if user|can:"import_run" %}: whether the user's role holds the capability (accounts.permissions)."""
    return user_can(user, Capability(capability))


class BilingualNode(template.Node):
    def __init__(self, nodelist: template.NodeList, sep: Any, asvar: str | None) -> None:
        self.nodelist, self.sep, self.asvar = nodelist, sep, asvar

    def render(self, context: template.Context) -> str:
        halves = []
        for language in ("vi", "en"):
            with translation.override(language):
                halves.append(self.nodelist.render(context))
        vi, en = (mark_safe(half) for half in halves)  # each half is what the template itself renders
        if self.sep is not None:
            joined = format_html("{}{}{}", vi, self.sep.resolve(context), en)
        else:
            joined = format_html('{} <span class="en">{}</span>', vi, en)
        if self.asvar:
            context[self.asvar] = (vi, en) if self.sep is None else joined
            return ""
        return joined


@register.tag
def bilingual(parser: template.base.Parser, token: template.base.Token) -> BilingualNode:
    """Both languages side by side, for the public pages read by people of either language:

    ``{% bilingual %}{% translate "Track a complaint" %}{% endbilingual %}`` renders the content in
    Vietnamese, then in English inside ``<span class="en">``; ``{% bilingual sep " / " %}`` joins the two
    with the separator instead; ``{% bilingual as title %}`` keeps them as ``title.0`` and ``title.1``
    (with ``sep``, ``as`` keeps the joined text).
    """
    bits = token.split_contents()[1:]
    sep, asvar = None, None
    if bits[:1] == ["sep"] and len(bits) >= 2:
        sep, bits = parser.compile_filter(bits[1]), bits[2:]
    if bits[:1] == ["as"] and len(bits) == 2:
        asvar, bits = bits[1], []
    if bits:
        raise template.TemplateSyntaxError('{% bilingual [sep " / "] [as name] %}…{% endbilingual %}')
    nodelist = parser.parse(("endbilingual",))
    parser.delete_first_token()
    return BilingualNode(nodelist, sep, asvar)


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
