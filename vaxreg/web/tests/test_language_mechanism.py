from django.template import Context, Template
from django.utils import translation

from vaxreg.accounts.models import Role
from vaxreg.core.i18n import in_both_languages, label_both, label_halves, label_in_language
from vaxreg.verification.models import CaseState, ContactChannel


def test_a_choice_label_reads_in_the_active_language_and_in_both_where_both_are_shown() -> None:
    with translation.override("vi"):
        assert str(CaseState.OPEN.label) == "Mới"
        assert label_in_language(ContactChannel.VISIT.label) == "Đến nhà"
    with translation.override("en"):
        assert str(CaseState.OPEN.label) == "open"
        assert str(Role.PROVINCE.label) == "Provincial health department"
    # exports and stored history lines keep the form they had: the same whatever the reader's language
    for language in ("vi", "en"):
        with translation.override(language):
            assert label_both(CaseState.RESOLVED.label) == "Đã xong / resolved"
            assert label_halves(ContactChannel.PHONE.label) == ("Điện thoại", "phone")


def test_a_stored_bilingual_label_is_still_read_by_halves() -> None:
    assert label_halves("Liên lạc được / reached") == ("Liên lạc được", "reached")
    with translation.override("en"):
        assert label_in_language("Liên lạc được / reached") == "reached"


def test_public_words_come_in_both_languages_whatever_the_page_language() -> None:
    template = Template(
        '{% load i18n vaxreg %}<h1>{% bilingual %}{% translate "Track a complaint" %}{% endbilingual %}</h1>'
        '<title>{% bilingual sep " / " %}{% translate "Send a complaint" %}{% endbilingual %}</title>'
        '{% bilingual as kept %}{% translate "Everything you typed is kept." %}{% endbilingual %}'
        '<p>{{ kept.0 }}</p><p class="en">{{ kept.1 }}</p>'
    )
    for language in ("vi", "en"):
        with translation.override(language):
            html = template.render(Context())
        assert '<h1>Theo dõi phản ánh <span class="en">Track a complaint</span></h1>' in html
        assert "<title>Gửi phản ánh / Send a complaint</title>" in html
        assert (
            '<p>Những gì bạn đã nhập vẫn được giữ nguyên.</p><p class="en">Everything you typed is kept.</p>'
            in html
        )
    assert in_both_languages("Choose a gender.") == ("Hãy chọn giới tính.", "Choose a gender.")
