"""The staff site under the ``web`` namespace: web's own pages (home, login, second factor), then the
pages each room keeps in its own ``urls`` (the paths and names they have always had)."""

from django.urls import include, path

from vaxreg.corrections import urls as corrections_urls
from vaxreg.imports import urls as imports_urls
from vaxreg.linkage import urls_merges as linkage_urls
from vaxreg.people import urls as people_urls
from vaxreg.vaccinations import urls as vaccinations_urls
from vaxreg.web import login_views, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", login_views.login_view, name="login"),
    path("login/code/", login_views.login_code_view, name="login_code"),
    path("login/setup/", login_views.login_setup_view, name="login_setup"),
    path("logout/", login_views.logout_view, name="logout"),
    path("account/second-factor/", login_views.second_factor_view, name="second_factor"),
    path("", include(people_urls)),
    path("", include(corrections_urls)),
    path("", include(imports_urls)),
    path("", include(vaccinations_urls)),
    path("", include(linkage_urls)),
]
