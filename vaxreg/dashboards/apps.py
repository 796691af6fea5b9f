from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    """Progress per unit (SPEC §9): figures kept per unit and per day, the dashboards that read them."""

    name = "vaxreg.dashboards"
    label = "dashboards"
    verbose_name = "Tiến độ / Progress"

    def ready(self) -> None:
        from vaxreg.core.touched import touched_listen
        from vaxreg.dashboards.services import units_mark_stale

        touched_listen("dashboards", units_mark_stale)
