from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "vaxreg.imports"
    label = "imports"

    def ready(self) -> None:
        from vaxreg.core.labels import labels_register
        from vaxreg.imports.models import BATCH_STATUS_LABELS

        labels_register("batch_status", BATCH_STATUS_LABELS)
