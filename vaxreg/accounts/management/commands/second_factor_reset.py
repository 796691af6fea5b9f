from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import User
from vaxreg.accounts.second_factor import second_factor_reset
from vaxreg.core.i18n import both_languages


class Command(BaseCommand):
    help = (
        "Take away a staff account's second factor (TOTP device), e.g. after the phone was lost.\n\n"
        "The user sets up a new device at the next login when the role must have one (national, province, "
        "admin) or logs in with the password alone otherwise. Sessions that gave a code of the old device "
        "count as logged out at once for roles that need one. The reset is audited (SECOND_FACTOR_REMOVED) "
        "with the reason given.\n\n"
        'Example: vaxreg second-factor reset --username bo-y-te --reason "phone lost, ticket 1234"'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--reason", required=True, help="why: kept in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username__iexact=options["username"].strip()).first()
        if user is None:
            raise CommandError(
                both_languages(gettext_noop("No account %(username)s."), {"username": options["username"]})
            )
        removed = second_factor_reset(user=user, reason=options["reason"])
        if removed:
            self.stdout.write(f"{both_languages(gettext_noop('Second factor removed'))}: {user.username}")
        else:
            self.stdout.write(
                f"{both_languages(gettext_noop('No second factor was set up'))}: {user.username}"
            )
