from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "vaxreg.accounts"
    label = "accounts"

    def ready(self) -> None:
        from vaxreg.accounts.models import Role
        from vaxreg.core.labels import labels_register

        labels_register("role", {role.value: role.label for role in Role})
        from django.contrib.auth.signals import user_logged_in

        from vaxreg.accounts.middleware import session_activity_on_login

        # Every login starts the idle clock of its session (Django's own update of last_login hangs here too).
        user_logged_in.connect(session_activity_on_login, dispatch_uid="vaxreg.accounts.session_activity")
