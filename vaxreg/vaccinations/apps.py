from django.apps import AppConfig


class VaccinationsConfig(AppConfig):
    name = "vaxreg.vaccinations"
    label = "vaccinations"
