from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "vaxreg.certificates"
    label = "certificates"
    verbose_name = "Chứng nhận tiêm chủng / Vaccination certificates"
