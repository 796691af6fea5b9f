from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.certificates.keys import default_key_directory, keys_generate
from vaxreg.core.i18n import both_languages


class Command(BaseCommand):
    help = (
        "Create the Document Signer keys that sign vaccination certificates (SPEC §8): an RSA-2048 key for "
        "PS256 and a P-256 key for ES256, each with a self-signed X.509 certificate restricted to vaccination "
        "certificates (extended key usage 1.3.6.1.4.1.1847.2021.1.2). Writes ps256-key.pem, ps256-cert.pem, "
        "es256-key.pem and es256-cert.pem into --out (default $VAXREG_VAR_DIR/dcc-keys, where VaxReg finds them "
        "without configuration); private keys get mode 0600 and never leave the server. Prints the environment "
        "variables that select these files. Before replacing keys that signed certificates, copy the old "
        "*-cert.pem into the folder named by VAXREG_DCC_TRUST_DIR so that those certificates keep verifying."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", type=Path, help="folder for the four PEM files (default $VAXREG_VAR_DIR/dcc-keys)"
        )
        parser.add_argument(
            "--country", default="VN", help="country of the certificates' subject (default VN)"
        )
        parser.add_argument(
            "--days", type=int, default=730, help="validity of the certificates in days (default 730)"
        )
        parser.add_argument("--force", action="store_true", help="replace keys already in the folder")

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["out"] or default_key_directory()
        existing = [p for p in ("ps256-key.pem", "es256-key.pem") if (folder / p).exists()]
        if existing and not options["force"]:
            holds = gettext_noop("%(folder)s already holds keys (%(files)s); use --force to replace them")
            raise CommandError(both_languages(holds, {"folder": folder, "files": ", ".join(existing)}))
        files = keys_generate(folder, country=options["country"], days=options["days"])
        self.stdout.write(
            both_languages(gettext_noop("Signing keys written to %(folder)s:"), {"folder": folder})
        )
        for name, value in files.environment().items():
            self.stdout.write(f"  export {name}={value}")
