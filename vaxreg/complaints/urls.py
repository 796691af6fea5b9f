"""The handlers' side: inbox, complaint page, actions, proof files, figures."""

from django.urls import path

from vaxreg.complaints import views

app_name = "complaints"
urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("figures/", views.figures_view, name="figures"),
    path("<int:complaint_id>/", views.complaint_detail, name="complaint"),
    path("<int:complaint_id>/id-number/", views.complaint_full_id, name="full_id"),
    path("<int:complaint_id>/proof/<int:position>/", views.proof_view, name="proof"),
    path("<int:complaint_id>/approve-dose/", views.approve_dose_view, name="approve_dose"),
    path(
        "<int:complaint_id>/approve-correction/<int:person_id>/",
        views.approve_correction_view,
        name="approve_correction",
    ),
    path("<int:complaint_id>/defer/", views.defer_view, name="defer"),
    path("<int:complaint_id>/reject/", views.reject_view, name="reject"),
    path("<int:complaint_id>/transfer/", views.transfer_view, name="transfer"),
]
