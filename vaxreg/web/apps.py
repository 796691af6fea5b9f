from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "vaxreg.web"
    label = "web"
