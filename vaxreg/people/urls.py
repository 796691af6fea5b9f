"""The person pages; included by ``web.urls`` under the ``web`` namespace, where their names have always been."""

from django.urls import path

from vaxreg.people import views

urlpatterns = [
    path("search/", views.search, name="search"),
    path("people/<int:person_id>/", views.person_detail, name="person"),
    path("people/<int:person_id>/id-number/", views.person_full_id, name="person_full_id"),
]
