"""The handlers' side: inbox, complaint page, actions, proof files, figures."""

from django.urls import URLPattern, URLResolver

app_name = "complaints"
urlpatterns: list[URLPattern | URLResolver] = []
