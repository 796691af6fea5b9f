import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import User
from vaxreg.core.i18n import both_languages
from vaxreg.fhir.tokens import (
    ApiTokenError,
    api_token_create,
    api_token_find,
    api_token_revoke,
    api_tokens_list,
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of the help text: it lists the sub-commands one per line."""


class Command(BaseCommand):
    help = (
        "Manage the API tokens facility systems use for the FHIR interface (/fhir/).\n\n"
        "  create --facility CODE --name NAME [--user U]\n"
        "      create a token; its secret is printed once and cannot be shown again (only its SHA-256 is kept)\n"
        "  revoke TOKEN [--user U]\n"
        "      revoke a token by number or prefix: its requests get 401 from then on\n"
        "  list [--facility CODE]\n"
        "      list tokens: number, prefix, facility, name, created, last used, revoked\n\n"
        "A facility system sends `Authorization: Bearer <secret>`. It reads the persons its facility gave a\n"
        "dose to and writes only doses given at its facility. Creating and revoking are audited; --user names\n"
        "the staff account doing it.\n\n"
        'Example: vaxreg fhir token create --facility HN001 --name "Phần mềm tiêm chủng"'
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
        create = actions.add_parser("create", help="create a token and print its secret once")
        create.add_argument("--facility", required=True, help="facility code, e.g. HN001")
        create.add_argument("--name", required=True, help="what the token is for, e.g. the software's name")
        create.add_argument("--user", help="username of the staff account creating it (audit)")
        revoke = actions.add_parser("revoke", help="revoke a token")
        revoke.add_argument("token", help="token number or prefix, as `list` shows them")
        revoke.add_argument("--user", help="username of the staff account revoking it (audit)")
        listing = actions.add_parser("list", help="list tokens")
        listing.add_argument("--facility", help="only this facility's tokens")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "create":
                self._create(options)
            elif options["action"] == "revoke":
                self._revoke(options)
            else:
                self._list(options)
        except ApiTokenError as exc:
            raise CommandError(exc.bilingual("\n")) from exc

    def _actor_id(self, username: str | None) -> int | None:
        if not username:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(
                both_languages(gettext_noop("No account “%(username)s”."), {"username": username})
            )
        return user.pk

    def _create(self, options: dict[str, Any]) -> None:
        token, secret = api_token_create(
            facility_code=options["facility"], name=options["name"], actor_id=self._actor_id(options["user"])
        )
        created = gettext_noop("Created token #%(id)s (%(prefix)s) for %(facility)s: %(name)s")
        values = {"id": token.pk, "prefix": token.prefix, "facility": token.facility.code, "name": token.name}
        self.stdout.write(both_languages(created, values))
        self.stdout.write(both_languages(gettext_noop("Secret, shown only once:")))
        self.stdout.write(secret)

    def _revoke(self, options: dict[str, Any]) -> None:
        found = api_token_find(reference=options["token"])
        if found is None:
            raise CommandError(
                both_languages(gettext_noop("No token “%(token)s”."), {"token": options["token"]})
            )
        token = api_token_revoke(token_id=found.pk, actor_id=self._actor_id(options["user"]))
        revoked = gettext_noop("Revoked token #%(id)s (%(prefix)s) of %(facility)s")
        self.stdout.write(
            both_languages(revoked, {"id": token.pk, "prefix": token.prefix, "facility": token.facility.code})
        )

    def _list(self, options: dict[str, Any]) -> None:
        tokens = list(api_tokens_list(facility_code=options["facility"]))
        if not tokens:
            self.stdout.write(both_languages(gettext_noop("No tokens.")))
            return
        for token in tokens:
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
            self.stdout.write(
                f"#{token.pk}\t{token.prefix}\t{token.facility.code}\t{token.name}\t"
                f"created {token.created_at:%Y-%m-%d %H:%M}\tlast used {used}\t{state}"
            )
