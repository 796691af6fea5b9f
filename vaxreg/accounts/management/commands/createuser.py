from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import pgettext_lazy

from vaxreg.accounts.models import Role
from vaxreg.accounts.services import UserCreateError, password_generate, user_create
from vaxreg.core.i18n import both_languages


class Command(BaseCommand):
    help = (
        "Create a staff account with a role and the unit it answers for.\n\n"
        "Roles: national and admin read the whole country and take no unit; province takes --province "
        "(2-digit code); commune and police take --commune (5-digit code); facility takes --facility "
        "(facility code). The province is derived from the commune or facility.\n"
        "Without --password a strong random password is generated and printed once.\n\n"
        "Example: vaxreg createuser --username hanoi --role province --province 01"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        unit = parser.add_mutually_exclusive_group()
        unit.add_argument("--province", help="2-digit province code (role province)")
        unit.add_argument("--commune", help="5-digit commune code (roles commune, police)")
        unit.add_argument("--facility", help="facility code (role facility)")
        parser.add_argument("--password", help="the password; generated and printed when left out")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or password_generate()
        try:
            user = user_create(
                username=options["username"],
                password=password,
                role=options["role"],
                province_code=options["province"],
                commune_code=options["commune"],
                facility_code=options["facility"],
            )
        except UserCreateError as exc:
            raise CommandError(exc.bilingual("\n")) from exc
        unit = user.facility or user.commune or user.province
        where = f" ({unit})" if unit else ""
        self.stdout.write(
            f"{both_languages(pgettext_lazy('command', 'Created'))}: {user.username} [{user.role}]{where}"
        )
        if not options["password"]:
            self.stdout.write(f"{both_languages(pgettext_lazy('command', 'Password'))}: {password}")
