from django.urls import path

from vaxreg.linkage import views

app_name = "linkage"
urlpatterns = [
    path("", views.queue_view, name="queue"),
    path("bulk/", views.bulk_view, name="bulk"),
    path("<int:pair_id>/", views.pair_view, name="pair"),
    path("<int:pair_id>/merge/", views.pair_merge_view, name="pair_merge"),
    path("<int:pair_id>/not-same/", views.pair_not_same_view, name="pair_not_same"),
    path("<int:pair_id>/skip/", views.pair_skip_view, name="pair_skip"),
]
