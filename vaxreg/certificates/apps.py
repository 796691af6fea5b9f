from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "vaxreg.certificates"
    label = "certificates"
    verbose_name = "Chứng nhận tiêm chủng / Vaccination certificates"

    def ready(self) -> None:
        from vaxreg.certificates.issuing import certificates_after_correction
        from vaxreg.corrections.hooks import after_correction_register

        after_correction_register("certificates", certificates_after_correction)
