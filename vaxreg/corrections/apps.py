from django.apps import AppConfig


class CorrectionsConfig(AppConfig):
    name = "vaxreg.corrections"
    label = "corrections"

    def ready(self) -> None:
        from vaxreg.corrections.views import access_changes_section
        from vaxreg.people.hooks import person_section_register

        person_section_register(
            "access_changes", template="corrections/_access_changes.html", context=access_changes_section
        )
