from django import forms
from django.utils.translation import gettext_lazy as _


class UndoMergeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), min_length=3, max_length=1000)
