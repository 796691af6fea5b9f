from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "vaxreg.fhir"
    label = "fhir"
    verbose_name = "HL7 FHIR R4B exchange"
