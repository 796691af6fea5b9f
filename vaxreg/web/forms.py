from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

ACCEPTED_SUFFIXES = {".csv", ".xlsx"}


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name, ID number or phone"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "autocomplete": "off"}),
    )


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


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), strip=False, max_length=4096, widget=forms.PasswordInput)


class SecondFactorCodeForm(forms.Form):
    code = forms.CharField(label=_("Code from your authenticator app"), max_length=16)

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())  # "123 456" as the apps show it
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            raise forms.ValidationError(
                "Mã gồm 6 chữ số, lấy từ ứng dụng xác thực. / The code is the 6 digits your authenticator app shows."
            )
        return code
