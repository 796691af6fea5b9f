from django.apps import AppConfig


class SynthConfig(AppConfig):
    name = "vaxreg.synth"
    label = "synth"
