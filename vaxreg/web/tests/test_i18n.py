import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_home_is_vietnamese_by_default_and_english_after_switching(client, world):
    client.force_login(world.users["province_hn"])
    html = client.get(reverse("web:home")).content.decode()
    assert '<html lang="vi">' in html
    assert "Sở Y tế" in html and "Đăng xuất" in html
    assert "Log out" not in html

    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("web:home")})
    assert response.status_code == 302
    html = client.get(reverse("web:home")).content.decode()
    assert '<html lang="en">' in html
    assert "Provincial health department" in html and "Log out" in html
    assert "Đăng xuất" not in html


def test_login_page_is_vietnamese_for_anonymous_visitors(client, world):
    html = client.get(reverse("web:login")).content.decode()
    assert "Đăng nhập" in html and "Mật khẩu" in html


def test_an_english_browser_still_gets_vietnamese_until_the_user_switches(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "vi"
    assert "Đăng nhập" in response.content.decode()
