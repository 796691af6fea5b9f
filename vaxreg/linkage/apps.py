from django.apps import AppConfig


class LinkageConfig(AppConfig):
    """Record linkage: the same citizen recorded twice (SPEC §5 DUPLICATE_SUSPECT), its review and merges."""

    name = "vaxreg.linkage"
    label = "linkage"
    verbose_name = "Trùng người / Record linkage"

    def ready(self) -> None:
        from vaxreg.linkage.views import merges_section
        from vaxreg.people.hooks import person_section_register

        person_section_register("merges", template="linkage/_merges.html", context=merges_section)
