from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

ACCEPTED_SUFFIXES = {".csv", ".xlsx"}


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File (CSV or Excel .xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )
    facility_code = forms.CharField(
        label=_("Facility code"),
        max_length=32,
        required=False,
        help_text=_("Leave empty when the file carries the facility code in each row."),
    )

    def __init__(self, *args: Any, locked_facility_code: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if locked_facility_code:
            # A disabled field ignores what the browser posts: a facility imports only for itself.
            self.fields["facility_code"].initial = locked_facility_code
            self.fields["facility_code"].disabled = True
            self.fields["facility_code"].help_text = _("Your account imports for this facility only.")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in ACCEPTED_SUFFIXES:
            raise forms.ValidationError(_("Only .csv and .xlsx files can be imported."))
        if upload.size > settings.VAXREG_IMPORT_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is too large."))
        return upload
