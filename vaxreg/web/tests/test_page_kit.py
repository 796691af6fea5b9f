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


FIGURES = Template(
    "{% load i18n vaxreg %}"
    '{% if pick %}{% capture as pick_all %}<input type="checkbox" aria-label="{% translate "Date" %}">'
    "{% endcapture %}{% endif %}"
    '{% table pick_all _("Unit") _("Doses")|numeric "" %}'
    '{% for r in rows %}<tr><td>{{ r }}</td><td class="num">1</td><td></td></tr>{% endfor %}'
    '{% tablefoot %}{% if total %}<tr><th scope="row">{{ total }}</th></tr>{% endif %}{% endtable %}'
)


def render_figures(**context: object) -> str:
    with translation.override("vi"):
        return FIGURES.render(Context({"rows": ["A"], **context}))


def test_a_column_of_figures_has_its_header_aligned_with_its_cells_and_an_empty_header_stays():
    html = render_figures()
    assert '<th scope="col">Đơn vị</th>' in html
    assert '<th scope="col" class="num">' in html
    assert html.count('<th scope="col"') == 3 and '<th scope="col"></th>' in html


def test_a_column_some_readers_do_not_get_is_left_out_and_a_header_may_hold_a_control():
    assert "checkbox" not in render_figures(pick=False)
    html = render_figures(pick=True)
    assert '<thead><tr>\n      <th scope="col"><input type="checkbox" aria-label="Ngày"></th>' in html
    assert html.count('<th scope="col"') == 4


def test_the_footer_rows_go_in_a_tfoot_only_when_there_are_some():
    assert "<tfoot>" not in render_figures()
    html = render_figures(total="<Tổng>")
    assert '<tfoot><tr><th scope="row">&lt;Tổng&gt;</th></tr></tfoot>' in html
    assert html.index("</tbody>") < html.index("<tfoot>") < html.index("</table>")
