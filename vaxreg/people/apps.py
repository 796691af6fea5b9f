from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "vaxreg.people"
    label = "people"
