"""The citizen's own lookup: ID and phone, a one-time code, then their doses and certificate."""

from django.urls import URLPattern, URLResolver

app_name = "citizens"
urlpatterns: list[URLPattern | URLResolver] = []
