from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "vaxreg.complaints"
    label = "complaints"
