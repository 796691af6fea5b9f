from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "vaxreg.places"
    label = "places"
