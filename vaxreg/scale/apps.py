from django.apps import AppConfig


class ScaleConfig(AppConfig):
    """The nation's records over several servers: a local Citus cluster for development, CI and benches."""

    name = "vaxreg.scale"
    label = "scale"
    verbose_name = "Scale"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_citus_prepare, sender=self, dispatch_uid="vaxreg.scale.citus_prepare")


def _citus_prepare(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """After every migration on a Citus coordinator: the database made ready (a no-op elsewhere)."""
    from django.db import connections

    from vaxreg.scale.citus import citus_prepare

    citus_prepare(connections[using])
