from dataclasses import dataclass
from typing import Any

from django import template
from django.template.base import FilterExpression, Parser, Token
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import smart_split

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
def percent(share: float | None) -> str:
    """A probability or share as a percentage in the page's number format ("99,9 %" in Vietnamese): a bare
    "1,000" reads as one thousand to a Vietnamese reader."""
    from django.utils.formats import number_format

    return "" if share is None else f"{number_format(share * 100, 1)} %"


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


@dataclass(frozen=True)
class Column:
    """A column header with a class for its ``<th>`` (``num``: a column of figures, aligned right)."""

    label: Any
    css: str


@register.filter
def numeric(label: Any) -> Column:
    """``{% table _("Unit") _("Received")|numeric %}``: a column of figures, its header aligned right (its
    cells carry ``class="num"``)."""
    return Column(label, "num")


class TableNode(template.Node):
    def __init__(
        self,
        headers: list[FilterExpression],
        options: dict[str, FilterExpression],
        body: template.NodeList,
        foot: template.NodeList | None,
    ) -> None:
        self.headers, self.options, self.body, self.foot = headers, options, body, foot

    def _head(self, context: template.Context) -> str:
        cells = []
        for expression in self.headers:
            header = expression.resolve(context, ignore_failures=True)
            if header is None:  # a column shown to some readers only: its variable is not set
                continue
            css = format_html(' class="{}"', header.css) if isinstance(header, Column) else ""
            label = header.label if isinstance(header, Column) else header
            cells.append(format_html('\n      <th scope="col"{}>{}</th>', css, label))
        return mark_safe("".join(cells))  # each cell is built by format_html

    def render(self, context: template.Context) -> str:
        options = {name: value.resolve(context) for name, value in self.options.items()}
        if "when" in options and not options["when"]:
            return format_html("<p>{}</p>", options.get("empty", ""))
        foot = self.foot.render(context) if self.foot else ""
        foot = format_html("    <tfoot>{}</tfoot>\n", foot) if foot.strip() else ""
        return format_html(
            '<div class="table-wrap">\n  <table{}>\n    <thead><tr>{}\n    </tr></thead>\n    <tbody>{}</tbody>\n'
            "{}  </table>\n  </div>",
            format_html(' class="{}"', options["class"]) if options.get("class") else "",
            self._head(context),
            self.body.render(context),
            foot,
        )


TABLE_OPTIONS = ("class", "when", "empty")


@register.tag
def table(parser: Parser, token: Token) -> TableNode:
    """The page kit's table, around the rows it holds: the wrapper that scrolls sideways on a narrow
    screen, the table and its column headers. The page writes its rows (``<tr>…</tr>``, links, badges,
    masked IDs and all); the tag writes the rest::

        {% table _("Date") _("Doses")|numeric pick_all when=doses empty=_("No dose.") class="doses" %}
          {% for d in doses %}<tr>…<td class="num">{{ d.count }}</td></tr>{% endfor %}
        {% tablefoot %}<tr>…</tr>
        {% endtable %}

    - a header is any value: a translated literal, a variable (``{% translate "…" context "…" as h %}``,
      ``{% bilingual sep " / " as h %}``, or markup kept with ``{% capture as h %}``); a header variable
      that is not set leaves its column out (a column some readers do not get), ``""`` is an empty header;
    - ``|numeric`` marks a column of figures: its header aligned right like its ``class="num"`` cells;
    - ``when``: when it is empty, the ``empty`` sentence in a paragraph instead of the table;
    - ``class``: the table's class; ``{% tablefoot %}`` (optional): the rows of its ``<tfoot>``.
    - cells: ``class="num"`` for figures, ``class="long"`` for a cell of sentences or many values (kept
      readable on a phone, where the table scrolls sideways inside its wrapper).
    """
    headers: list[FilterExpression] = []
    options: dict[str, FilterExpression] = {}
    for bit in list(smart_split(token.contents))[1:]:  # split_contents would not end _("…") at its filters
        name, equals, value = bit.partition("=")
        if equals and name in TABLE_OPTIONS:
            options[name] = parser.compile_filter(value)
        else:
            headers.append(parser.compile_filter(bit))
    body = parser.parse(("tablefoot", "endtable"))
    foot = None
    if parser.next_token().contents == "tablefoot":
        foot = parser.parse(("endtable",))
        parser.delete_first_token()
    return TableNode(headers, options, body, foot)


class CaptureNode(template.Node):
    def __init__(self, nodelist: template.NodeList, asvar: str) -> None:
        self.nodelist, self.asvar = nodelist, asvar

    def render(self, context: template.Context) -> str:
        context[self.asvar] = mark_safe(self.nodelist.render(context))  # what the template itself renders
        return ""


@register.tag
def capture(parser: Parser, token: Token) -> CaptureNode:
    """``{% capture as name %}…{% endcapture %}``: keeps what the content renders (escaped as usual) as
    ``name``, for a value built of markup, such as a table header holding a control."""
    bits = token.split_contents()[1:]
    if len(bits) != 2 or bits[0] != "as":
        raise template.TemplateSyntaxError("{% capture as name %}…{% endcapture %}")
    nodelist = parser.parse(("endcapture",))
    parser.delete_first_token()
    return CaptureNode(nodelist, bits[1])
