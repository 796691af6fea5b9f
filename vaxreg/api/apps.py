from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "vaxreg.api"
    label = "api"
