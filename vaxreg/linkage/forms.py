"""The forms of the duplicates review: the queue's filter, the decisions on one pair, the bulk decision and
the undo of a merge."""

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vaxreg.linkage.merging import FIELD_GROUPS, MERGED, SURVIVOR
from vaxreg.linkage.models import PairState
from vaxreg.linkage.review import BAND_LABELS, BULK_MAX, MERGE, NOT_SAME, STATE_LABELS, PairFilter
from vaxreg.places.models import Commune

ALL_STATES = "all"

# The field groups as the merge form names them.
GROUP_LABELS: dict[str, Any] = {
    "full_name": _("Full name"),
    "birth_date": _("Date of birth"),
    "gender": _("Gender"),
    "id_number": _("ID number"),
    "phone": _("Phone"),
    "address": _("Address"),
    "commune": _("Commune of residence"),
}


def _set_choices(form: forms.Form, name: str, choices: list[tuple[Any, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _reason_field(label: Any, *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        min_length=3 if required else None,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class QueueFilterForm(forms.Form):
    band = forms.ChoiceField(label=_("Probability"), required=False)
    commune = forms.ChoiceField(label=_("Commune"), required=False)
    state = forms.ChoiceField(label=_("Status"), required=False)
    same_id = forms.BooleanField(label=_("Same CCCD only"), required=False)

    def __init__(self, *args: Any, communes: Iterable[Commune], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = _("— All —")
        _set_choices(self, "band", [("", everything), *BAND_LABELS.items()])
        _set_choices(
            self,
            "commune",
            [("", everything)] + [(c.pk, f"{c.name}, {c.province.short_name}") for c in communes],
        )
        _set_choices(self, "state", [*STATE_LABELS.items(), (ALL_STATES, _("All, decided ones too"))])

    def to_filter(self) -> PairFilter:
        """The filter of the valid fields (an invalid one is left out); open pairs unless asked otherwise."""
        if not self.is_bound:
            return PairFilter()
        self.is_valid()
        data = self.cleaned_data
        state = data.get("state") or PairState.OPEN
        return PairFilter(
            band=data.get("band") or "",
            commune=data.get("commune") or "",
            state="" if state == ALL_STATES else state,
            same_id=bool(data.get("same_id")),
        )


class MergeForm(forms.Form):
    """Same person: which record survives, per field group whose value it keeps, and why."""

    survivor = forms.TypedChoiceField(label=_("Record kept"), coerce=int, widget=forms.RadioSelect)
    version_a = forms.IntegerField(widget=forms.HiddenInput)
    version_b = forms.IntegerField(widget=forms.HiddenInput)
    reason = _reason_field(_("Why these are one person"))

    def __init__(
        self, *args: Any, a: Any, b: Any, sides: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.a, self.b = a, b
        _set_choices(self, "survivor", [(a.pk, f"#{a.pk}"), (b.pk, f"#{b.pk}")])
        for group in FIELD_GROUPS:
            self.fields[f"keep_{group}"] = forms.ChoiceField(
                label=GROUP_LABELS[group],
                choices=[("a", f"#{a.pk}"), ("b", f"#{b.pk}")],
                widget=forms.RadioSelect,
                initial=(sides or {}).get(group, "a"),
            )

    def group_fields(self) -> list[tuple[str, Any]]:
        return [(group, self[f"keep_{group}"]) for group in FIELD_GROUPS]

    def field_for(self, name: str) -> str:
        return {"field_choices": "survivor"}.get(name, name)

    def field_choices(self) -> dict[str, str]:
        """Per group, "survivor" or "merged" for ``person_merge``, from the sides ticked."""
        survivor = self.cleaned_data["survivor"]
        kept = {"a": self.a.pk, "b": self.b.pk}
        return {
            group: SURVIVOR if kept[self.cleaned_data[f"keep_{group}"]] == survivor else MERGED
            for group in FIELD_GROUPS
        }

    def versions(self) -> dict[int, int]:
        return {self.a.pk: self.cleaned_data["version_a"], self.b.pk: self.cleaned_data["version_b"]}


class NotSameForm(forms.Form):
    reason = _reason_field(_("Why these are two people"))


class SkipForm(forms.Form):
    reason = _reason_field(_("Note (optional)"), required=False)


class BulkForm(forms.Form):
    pair_ids = forms.TypedMultipleChoiceField(coerce=int, label=_("Pairs"))
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            (MERGE, _("Same person: merge with the proposed values")),
            (NOT_SAME, _("Not the same person")),
        ],
    )
    reason = _reason_field(_("Reason, for every pair ticked"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = self.data.getlist("pair_ids") if hasattr(self.data, "getlist") else []
        _set_choices(self, "pair_ids", [(i, i) for i in ids[:BULK_MAX] if str(i).isdigit()])


class UndoMergeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), min_length=3, max_length=1000)
