from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "vaxreg.people"
    label = "people"

    def ready(self) -> None:
        from vaxreg.core.labels import history_value_register, label, labels_register
        from vaxreg.people.models import GENDER_LABELS, ID_TYPE_LABELS, VERIFICATION_STATE_LABELS

        labels_register("gender", GENDER_LABELS)
        labels_register("id_type", ID_TYPE_LABELS)
        labels_register("verification_state", VERIFICATION_STATE_LABELS)
        history_value_register("gender", lambda value: label("gender", value))
