from django.apps import AppConfig


class CitizensConfig(AppConfig):
    name = "vaxreg.citizens"
    label = "citizens"
    verbose_name = "Tra cứu của người dân / Citizen lookup"
