from django.urls import path

from vaxreg.verification import police_views

urlpatterns = [
    path("", police_views.police_cases, name="police_cases"),
    path("cases/<int:case_id>/", police_views.police_case, name="police_case"),
    path("cases/<int:case_id>/id-number/", police_views.police_case_full_id, name="police_case_full_id"),
    path("export.xlsx", police_views.police_export, name="police_export"),
    path("import/", police_views.police_import, name="police_import"),
    path("import/<str:token>/report.csv", police_views.police_import_report, name="police_import_report"),
]
