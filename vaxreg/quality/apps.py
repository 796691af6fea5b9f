from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "vaxreg.quality"
    label = "quality"
