from django.apps import AppConfig


class VaccinationsConfig(AppConfig):
    name = "vaxreg.vaccinations"
    label = "vaccinations"

    def ready(self) -> None:
        from vaxreg.core.labels import labels_register
        from vaxreg.vaccinations.models import DOSE_STATUS_LABELS

        labels_register("dose_status", DOSE_STATUS_LABELS)
