"""The person page's undo of a merge; included by ``web.urls`` under the ``web`` namespace."""

from django.urls import path

from vaxreg.linkage import views

urlpatterns = [
    path("merges/<int:merge_id>/undo/", views.merge_undo, name="merge_undo"),
]
