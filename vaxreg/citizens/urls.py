"""The citizen's own lookup: ID and phone, a one-time code, then their doses and certificate."""

from django.urls import URLPattern, URLResolver, path

from vaxreg.citizens import views

app_name = "citizens"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.start_view, name="start"),
    path("ma/", views.code_view, name="code"),
    path("ho-so/", views.record_view, name="record"),
    path("thay-doi/<int:change_id>/", views.access_change_view, name="access_change"),
    path("thoat/", views.end_view, name="end"),
]
