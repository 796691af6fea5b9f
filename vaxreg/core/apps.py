from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "vaxreg.core"
    label = "core"
