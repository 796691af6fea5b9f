from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "vaxreg.bench"
    label = "bench"
