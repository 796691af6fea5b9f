from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "vaxreg.quality"
    label = "quality"

    def ready(self) -> None:
        from vaxreg.imports.hooks import after_import_register
        from vaxreg.quality.hooks import recheck_after_import

        after_import_register("quality", recheck_after_import)
