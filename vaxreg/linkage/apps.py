from django.apps import AppConfig


class LinkageConfig(AppConfig):
    """Record linkage: the same citizen recorded twice (SPEC §5 DUPLICATE_SUSPECT), its review and merges."""

    name = "vaxreg.linkage"
    label = "linkage"
    verbose_name = "Trùng người / Record linkage"

    def ready(self) -> None:
        from vaxreg.corrections.hooks import after_correction_register
        from vaxreg.imports.hooks import after_import_register
        from vaxreg.linkage.hooks import link_after_correction, link_after_import
        from vaxreg.linkage.merging import after_merge_register
        from vaxreg.linkage.review import pairs_follow_merge
        from vaxreg.linkage.views import merges_section
        from vaxreg.people.hooks import person_section_register

        after_import_register("linkage", link_after_import)
        after_correction_register("linkage", link_after_correction)
        after_merge_register("suspected_pairs", pairs_follow_merge)
        person_section_register("merges", template="linkage/_merges.html", context=merges_section)
