from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "vaxreg.verification"
    label = "verification"

    def ready(self) -> None:
        from vaxreg.core.labels import history_value_register, labels_extend, labels_register
        from vaxreg.imports.hooks import after_import_register
        from vaxreg.quality.hooks import after_scan_register
        from vaxreg.verification.hooks import cases_after_import, cases_after_scan
        from vaxreg.verification.web_selectors import (
            CASE_FIELD_PREFIX,
            CASE_HISTORY_FIELDS,
            CASE_SOURCE_LABELS,
            CODE_LABELS,
            contact_history_value,
            state_label,
        )

        after_import_register("verification", cases_after_import)
        after_scan_register("verification", cases_after_scan)
        labels_register("rule", CODE_LABELS)  # a rule code in a few words (``code|label:"rule"``)
        labels_extend("field", CASE_HISTORY_FIELDS)
        labels_extend("source_type", CASE_SOURCE_LABELS)
        history_value_register(f"{CASE_FIELD_PREFIX}state", state_label)
        history_value_register(f"{CASE_FIELD_PREFIX}contact", contact_history_value)
