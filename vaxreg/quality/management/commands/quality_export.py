from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import User
from vaxreg.core.i18n import both_languages
from vaxreg.core.jurisdiction import Scope, jurisdiction_of
from vaxreg.core.tables import TableTooLong
from vaxreg.places.models import Facility
from vaxreg.quality.exports import findings_export_write


class Command(BaseCommand):
    help = (
        "Export the open data-quality findings, one row per (finding, source record): facility code, source "
        "record id, rule code, severity and the message in Vietnamese and English (ID and phone numbers "
        "masked), so that each facility can correct its own source system. A finding about a person is listed "
        "once for each of that person's dose records; a finding about one dose once. The export is made on "
        "behalf of --user and holds what that account may read (a facility its own records, a health station "
        "its commune, a province its persons, national staff everything); every export is written to the audit "
        "log. Written as .csv (UTF-8 with BOM) or .xlsx, by the extension of --out. Run `vaxreg quality scan` "
        "first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="username of the account the export is made for")
        parser.add_argument("--facility", help="only the records of this facility code")
        parser.add_argument("--out", type=Path, required=True, help="the .csv or .xlsx file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            no_account = gettext_noop("no active account “%(username)s”")
            raise CommandError(both_languages(no_account, {"username": options["user"]}))
        if jurisdiction_of(user).scope is Scope.NOTHING:
            raise CommandError(
                f"Tài khoản “{user.username}” không được xem lỗi dữ liệu.\n"
                f"The account “{user.username}” may not read data-quality findings."
            )
        facility = options["facility"]
        if facility and not Facility.objects.filter(code=facility).exists():
            raise CommandError(
                f"Mã cơ sở tiêm “{facility}” không có trong danh mục.\nThe facility code “{facility}” is not in the list."
            )
        out: Path = options["out"]
        if out.suffix.lower() not in (".csv", ".xlsx"):
            raise CommandError("Tệp xuất phải là .csv hoặc .xlsx.\nThe output file must be .csv or .xlsx.")
        try:
            written = findings_export_write(
                user=user, fmt=out.suffix.lower()[1:], out=out, facility_code=facility, channel="cli"
            )
        except TableTooLong as refused:
            out.unlink(missing_ok=True)
            raise CommandError(f"{refused.message_vi}\n{refused.message_en}") from refused
        self.stdout.write(f"{written:,} {both_languages(gettext_noop('rows'))} → {out}")
