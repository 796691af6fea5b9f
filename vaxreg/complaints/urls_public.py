"""The citizens' side: the complaint form and the tracking page (no account)."""

from django.urls import URLPattern, URLResolver, path

from vaxreg.complaints import public_views

app_name = "complaints_public"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", public_views.complaint_form_view, name="form"),
    path("da-gui/", public_views.complaint_sent_view, name="sent"),
    path("theo-doi/", public_views.complaint_track_view, name="track"),
]
