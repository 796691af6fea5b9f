from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "vaxreg.accounts"
    label = "accounts"
