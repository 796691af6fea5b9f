from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), strip=False, max_length=4096, widget=forms.PasswordInput)


class SecondFactorCodeForm(forms.Form):
    code = forms.CharField(label=_("Code from your authenticator app"), max_length=16)

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())  # "123 456" as the apps show it
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("The code is the 6 digits your authenticator app shows."))
        return code
