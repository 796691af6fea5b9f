from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "vaxreg.verification"
    label = "verification"

    def ready(self) -> None:
        from vaxreg.imports.hooks import after_import_register
        from vaxreg.quality.hooks import after_scan_register
        from vaxreg.verification.hooks import cases_after_import, cases_after_scan

        after_import_register("verification", cases_after_import)
        after_scan_register("verification", cases_after_scan)
