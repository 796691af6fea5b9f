from django.urls import path

from vaxreg.web import login_views, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", login_views.login_view, name="login"),
    path("login/code/", login_views.login_code_view, name="login_code"),
    path("login/setup/", login_views.login_setup_view, name="login_setup"),
    path("logout/", login_views.logout_view, name="logout"),
    path("account/second-factor/", login_views.second_factor_view, name="second_factor"),
    path("search/", views.search, name="search"),
    path("people/<int:person_id>/", views.person_detail, name="person"),
    path("people/<int:person_id>/id-number/", views.person_full_id, name="person_full_id"),
    path(
        "people/<int:person_id>/access-changes/<int:change_id>/",
        views.person_access_change,
        name="person_access_change",
    ),
    path("imports/", views.imports, name="imports"),
    path("sign-off/", views.sign_off, name="sign_off"),
    path("imports/<int:batch_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:batch_id>/run-again/", views.import_run_again, name="import_run_again"),
    path(
        "imports/<int:batch_id>/rejected.<str:fmt>",
        views.import_rejected_download,
        name="import_rejected_download",
    ),
]
