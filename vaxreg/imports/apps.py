from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "vaxreg.imports"
    label = "imports"
