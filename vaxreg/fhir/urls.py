from django.urls import URLPattern, URLResolver, path

from vaxreg.fhir import views

app_name = "fhir"
urlpatterns: list[URLPattern | URLResolver] = [
    # A transaction or batch is posted to the base itself (FHIR), or to /Bundle.
    path("", views.bundle_post, name="base"),
    path("metadata", views.metadata, name="metadata"),
    path("Bundle", views.bundle_post, name="bundle"),
    path("Patient", views.patient_search, name="patient-search"),
    path("Patient/<str:resource_id>", views.patient_read, name="patient-read"),
    path("Patient/<str:resource_id>/$everything", views.patient_everything, name="patient-everything"),
    path("Immunization", views.immunization_search, name="immunization-search"),
    path("Immunization/<str:resource_id>", views.immunization_read, name="immunization-read"),
]
