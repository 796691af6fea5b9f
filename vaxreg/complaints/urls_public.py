"""The citizens' side: the complaint form and the tracking page (no account)."""

from django.urls import URLPattern, URLResolver

app_name = "complaints_public"
urlpatterns: list[URLPattern | URLResolver] = []
