from django.apps import AppConfig


class LinkageConfig(AppConfig):
    """Record linkage: the same citizen recorded twice (SPEC §5 DUPLICATE_SUSPECT), its review and merges."""

    name = "vaxreg.linkage"
    label = "linkage"
    verbose_name = "Trùng người / Record linkage"
