"""The person page's pending-change action; included by ``web.urls`` under the ``web`` namespace."""

from django.urls import path

from vaxreg.corrections import views

urlpatterns = [
    path(
        "people/<int:person_id>/access-changes/<int:change_id>/",
        views.person_access_change,
        name="person_access_change",
    ),
]
