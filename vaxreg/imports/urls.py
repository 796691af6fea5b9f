"""The import pages; included by ``web.urls`` under the ``web`` namespace, where their names have always been."""

from django.urls import path

from vaxreg.imports import views

urlpatterns = [
    path("imports/", views.imports, name="imports"),
    path("imports/<int:batch_id>/", views.import_detail, name="import_detail"),
    path("imports/<int:batch_id>/run-again/", views.import_run_again, name="import_run_again"),
    path(
        "imports/<int:batch_id>/rejected.<str:fmt>",
        views.import_rejected_download,
        name="import_rejected_download",
    ),
]
