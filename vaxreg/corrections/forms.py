"""The one form of a person's identity for every page that corrects one (the case page, a complaint's
approval): the same fields, bounds (from the field specification) and gender labels, and the same reading
of what changed. The correction service decides whether the change may be made."""

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from vaxreg.core.pages import choices_set
from vaxreg.people.models import GENDER_LABELS, Person
from vaxreg.vaccinations.fields import MIN_BIRTH_YEAR


def gender_choices() -> list[tuple[str, Any]]:
    """ "Unknown" first, then the genders, as the people app names them."""
    return [("", GENDER_LABELS[""])] + [(code, name) for code, name in GENDER_LABELS.items() if code]


class PersonIdentityForm(forms.Form):
    """A person's name, birth date, gender, ID number and phone as the user corrects them.

    ``identity_changes`` keeps only what differs from the record; an empty ID number keeps the stored one (the
    page shows it masked). A page names its fields its own way through ``LABELS``.
    """

    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    birth_day = forms.IntegerField(label=_("Day"), min_value=1, max_value=31, required=False)
    birth_month = forms.IntegerField(label=_("Month"), min_value=1, max_value=12, required=False)
    birth_year = forms.IntegerField(label=_("Year"), min_value=MIN_BIRTH_YEAR, max_value=2200, required=False)
    gender = forms.ChoiceField(label=_("Gender"), required=False)
    id_number = forms.CharField(
        label=_("ID number"),
        max_length=32,
        required=False,
        help_text=_("Leave empty to keep the stored number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)

    IDENTITY_FIELDS = ("full_name", "birth_day", "birth_month", "birth_year", "gender", "phone")
    LABELS: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, person: Person, **kwargs: Any) -> None:
        initial = {name: getattr(person, name) for name in self.IDENTITY_FIELDS}
        kwargs["initial"] = initial | kwargs.get("initial", {})
        super().__init__(*args, **kwargs)
        self.person = person
        choices_set(self, "gender", gender_choices())
        for name, label in self.LABELS.items():
            self.fields[name].label = label
        if person.id_number_masked:
            self.fields["id_number"].widget.attrs["placeholder"] = person.id_number_masked

    def identity_changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        typed: dict[str, Any] = {name: data[name] for name in self.IDENTITY_FIELDS}
        typed["full_name"] = typed["full_name"].strip()
        typed["phone"] = typed["phone"].strip()
        changes = {name: value for name, value in typed.items() if value != getattr(self.person, name)}
        id_number = "".join(data["id_number"].split())
        if id_number and id_number != self.person.id_number:
            changes["id_number"] = id_number
        return changes
