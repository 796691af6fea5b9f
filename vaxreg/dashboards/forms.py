from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from vaxreg.dashboards.models import Target


class CampaignForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("campaign", "Name"), max_length=200)
    unit_key = forms.ChoiceField(label=_("Unit"))
    target = forms.ChoiceField(label=_("Target"), choices=Target.choices)
    goal = forms.DecimalField(
        label=_("Goal"),
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text=_("A percentage for a share (95 means 95 %), a number for open work."),
    )
    start = forms.DateField(
        label=_("Start"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    deadline = forms.DateField(
        label=pgettext_lazy("campaign", "Deadline"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class CampaignCloseForm(forms.Form):
    reason = forms.CharField(label=_("Why it closes"), max_length=500, min_length=3)
