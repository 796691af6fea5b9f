from django.apps import AppConfig


class CorrectionsConfig(AppConfig):
    name = "vaxreg.corrections"
    label = "corrections"
