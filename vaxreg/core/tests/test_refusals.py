import datetime as dt

from django.utils import translation

from vaxreg.core.refusals import Forbidden, Refusal, StaleVersion


def test_a_refusal_speaks_the_active_language_and_both_when_asked():
    refusal = Refusal("Cần ghi lý do.", "A reason is needed.", field="reason")
    with translation.override("vi"):
        assert refusal.message() == "Cần ghi lý do."
    with translation.override("en"):
        assert refusal.message() == "A reason is needed."
    assert refusal.bilingual() == "Cần ghi lý do. / A reason is needed."
    assert (refusal.code, refusal.status, refusal.field, refusal.extra()) == ("refused", 400, "reason", {})


def test_a_stale_version_is_a_409_carrying_the_stored_values_as_json_reads_them():
    stale = StaleVersion(
        "Đã đổi.", "Changed.", current={"vaccination_date": dt.date(2021, 9, 1), "version": 3}
    )
    assert (stale.code, stale.status) == ("stale", 409)
    assert stale.extra() == {"current": {"vaccination_date": "2021-09-01", "version": 3}}


def test_forbidden_is_a_403_and_one_refusal_may_name_its_own_code_and_status():
    assert (Forbidden("Không được.", "Not allowed.").code, Forbidden("x", "y").status) == ("forbidden", 403)
    busy = Refusal("Thử lại sau.", "Try later.", code="rate_phone", status=429, retry_after=60)
    assert (busy.code, busy.status, busy.retry_after, Refusal.code, Refusal.status) == (
        "rate_phone",
        429,
        60,
        "refused",
        400,
    )
