from django.apps import AppConfig


class ScaleConfig(AppConfig):
    """The nation's records over several servers: a local Citus cluster for development, CI and benches."""

    name = "vaxreg.scale"
    label = "scale"
    verbose_name = "Scale"
