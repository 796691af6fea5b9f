from django.urls import path

from vaxreg.verification import views

urlpatterns = [
    path("", views.worklist_view, name="worklist"),
    path("worklist.xlsx", views.worklist_export, name="worklist_export"),
    path("assign/", views.cases_assign_view, name="assign"),
    path("findings.<str:fmt>", views.findings_export, name="findings_export"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/person/", views.case_person_correct_view, name="case_person_correct"),
    path("cases/<int:case_id>/doses/<int:dose_id>/", views.case_dose_correct_view, name="case_dose_correct"),
    path("cases/<int:case_id>/contacts/", views.case_contact_log_view, name="case_contact_log"),
    path("cases/<int:case_id>/escalate/", views.case_escalate_view, name="case_escalate"),
    path("cases/<int:case_id>/resolve/", views.case_resolve_view, name="case_resolve"),
    path("cases/<int:case_id>/unverifiable/", views.case_unverifiable_view, name="case_unverifiable"),
]
