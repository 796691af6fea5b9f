import datetime as dt
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext_noop, pgettext_lazy

from vaxreg.certificates.keys import certificates_from_pem, trust_list, trusted_certificates
from vaxreg.certificates.verifying import STEP_LABELS, Verification, hcert_verify
from vaxreg.core.i18n import both_languages


def _revocation_check() -> Any:
    """The revocation list, when the part of VaxReg that keeps it is installed."""
    try:
        from vaxreg.certificates.revocation import is_revoked
    except ImportError:
        return None
    return is_revoked


class Command(BaseCommand):
    help = (
        'Verify an EU Digital COVID Certificate text ("HC1:...", as read from its QR code) the way a '
        "verifier app does, offline: the HC1: prefix, base45, zlib, the COSE/CBOR structure, the signature "
        "against the trust list (the configured signing certificates, the PEM files in VAXREG_DCC_TRUST_DIR "
        "and any --cert), the validity period at --now (default: now), the DCC schema of the version it "
        "declares, and the revocation list (read from the database; --no-revocation skips it). Prints each step with ✓ or ✗ and, for a "
        "valid certificate, the holder's name, birth date and doses. Exit code 0 when valid, 1 when not. Give "
        "the text as an argument, or '-' to read it from standard input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", help='the certificate text "HC1:..." (or - for standard input)')
        parser.add_argument(
            "--cert",
            type=Path,
            action="append",
            default=[],
            help="a PEM signing certificate to trust as well (repeatable)",
        )
        parser.add_argument(
            "--now", help="the verification time, ISO 8601 (default: now); e.g. 2022-06-01T00:00:00Z"
        )
        parser.add_argument(
            "--no-revocation", action="store_true", help="skip the revocation list (no database needed)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = sys.stdin.read() if options["text"] == "-" else options["text"]
        now = _parse_now(options["now"])
        trust = dict(trusted_certificates())
        for path in options["cert"]:
            trust.update(trust_list(certificates_from_pem(path.read_bytes())))
        checker = None if options["no_revocation"] else _revocation_check()
        try:
            result = hcert_verify(text, now=now, trust=trust, **({"is_revoked": checker} if checker else {}))
        except DatabaseError as error:
            message = gettext_noop(
                "Cannot read the revocation list from the database (use --no-revocation to skip it)"
            )
            raise CommandError(f"{both_languages(message)}: {error}") from error
        self.stdout.write(render(result, revocation_checked=checker is not None))
        if not result.valid:
            sys.exit(1)


def _parse_now(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise CommandError(f"{both_languages(gettext_noop('invalid --now'))}: {value}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def render(result: Verification, *, revocation_checked: bool = True) -> str:
    """The steps with ✓/✗, the outcome, and the holder and doses of a valid certificate."""
    lines = []
    for step in result.steps:
        mark = "✓" if step.ok else "✗"
        line = f"{mark} {step.step:<12} {both_languages(STEP_LABELS[step.step])}"
        if step.step == "REVOKED" and step.ok and not revocation_checked:
            line += f" ({both_languages(pgettext_lazy('certificate verify', 'not checked'))})"
        if step.detail:
            line += f"\n    {step.detail}"
        lines.append(line)
    lines.append("")
    outcome = gettext_noop("VALID") if result.valid else gettext_noop("INVALID")
    lines.append(f"{both_languages(outcome)}: {result.message}")
    if result.kid is not None:
        lines.append(f"kid {result.kid.hex()}  alg {result.alg}  iss {result.issuer_country or '-'}")
    if result.issued_at and result.expires_at:
        lines.append(
            f"{both_languages(gettext_noop('issued'))} {result.issued_at:%Y-%m-%d %H:%M} UTC  "
            f"{both_languages(gettext_noop('expires'))} {result.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    if result.valid and result.holder:
        lines.append(
            f"{both_languages(pgettext_lazy('certificate holder', 'Name'))}: {result.holder.full_name} "
            f"({result.holder.family_name_icao}<<{result.holder.given_name_icao})"
        )
        lines.append(f"{both_languages(gettext_noop('Date of birth'))}: {result.holder.birth_date or '-'}")
        for dose in result.vaccinations:
            lines.append(
                f"{both_languages(pgettext_lazy('certificate dose', 'Dose'))} {dose.dose_number}/{dose.total_doses}: "
                f"{dose.date} {dose.product_name} "
                f"({dose.country}, {dose.issuer})"
            )
        lines.append(f"UVCI: {result.uvci}")
    return "\n".join(lines)
