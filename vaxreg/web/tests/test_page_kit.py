"""The page kit's table: the headers and rows a reader sees, or the sentence when there is nothing to show,
in the reader's language."""

from django.template import Context, Template
from django.utils import translation

TABLE = Template(
    '{% load i18n vaxreg %}{% table _("Date") "#" when=rows empty=_("No dose recorded.") class="doses" %}'
    "{% for r in rows %}<tr><td>{{ r }}</td></tr>{% endfor %}{% endtable %}"
)


def render(rows: list[str], language: str) -> str:
    with translation.override(language):
        return TABLE.render(Context({"rows": rows}))


def test_a_table_shows_its_translated_headers_and_rows():
    html = render(["<b>12/03/2021</b>"], "vi")
    assert html.startswith('<div class="table-wrap">\n  <table class="doses">\n    <thead><tr>')
    assert '<th scope="col">Ngày</th>' in html and '<th scope="col">#</th>' in html
    assert "<td>&lt;b&gt;12/03/2021&lt;/b&gt;</td>" in html  # cells stay escaped


def test_an_empty_table_is_the_sentence_in_the_readers_language():
    assert render([], "vi") == "<p>Chưa có mũi tiêm nào.</p>"
    assert render([], "en") == "<p>No dose recorded.</p>"
