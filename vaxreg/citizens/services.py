"""The citizen's one-time code (SPEC §8): asked for with an ID (or name, birth date and gender) and a phone
number, sent only to the phone on record, checked once.

Nothing a caller sees may tell whether the details matched a record: every request writes a challenge,
counts against the same limits and answers the same way; a challenge that matched nobody simply has no
code anyone knows. Limits are kept per address, per claimed identity (the typed details, hashed) and per
person, so asking again under another spelling of the same identity does not reset them.
"""

import datetime as dt
import enum
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from vaxreg.citizens.models import OtpChallenge
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS, parse_id_number
from vaxreg.core.dates import PartialDate
from vaxreg.core.history import audit_event_record
from vaxreg.core.i18n import both_languages
from vaxreg.core.messaging import MessageNotSent, message_send
from vaxreg.core.models import AuditEvent
from vaxreg.core.phones import normalize_phone
from vaxreg.core.ratelimit import RateLimit, rate_count, rate_hit
from vaxreg.core.refusals import Refusal
from vaxreg.core.text import fold
from vaxreg.people.models import Person

logger = logging.getLogger(__name__)

OTP_LIFETIME = dt.timedelta(minutes=5)
OTP_DIGITS = 6
MAX_WRONG_CODES = 5
HOUR = dt.timedelta(hours=1)
OTP_PER_ADDRESS = RateLimit(scope="citizen-otp-address", limit=5, window=HOUR)
OTP_PER_CLAIM = RateLimit(scope="citizen-otp-claim", limit=5, window=HOUR)
OTP_PER_PERSON = RateLimit(scope="citizen-otp-person", limit=5, window=HOUR)
# Wrong codes across the challenges of one claimed identity, and of one person: a new code does not
# give a guesser five more tries.
WRONG_PER_CLAIM = RateLimit(scope="citizen-otp-wrong-claim", limit=MAX_WRONG_CODES, window=HOUR)
WRONG_PER_PERSON = RateLimit(scope="citizen-otp-wrong-person", limit=MAX_WRONG_CODES, window=HOUR)


@dataclass(frozen=True)
class LookupClaim:
    """Who the citizen says they are: an ID number, or name + birth date + gender; and their phone."""

    phone: str
    id_number: str = ""
    full_name: str = ""
    birth: PartialDate | None = None
    gender: str = ""

    @property
    def phone_national(self) -> str:
        national, valid = normalize_phone(self.phone)
        return national if valid else ""

    @property
    def id_clean(self) -> str:
        parsed = parse_id_number(self.id_number) if self.id_number.strip() else None
        return parsed.number if parsed is not None and parsed.kind in USABLE_ID_KINDS else ""

    def key(self) -> str:
        """A fingerprint of the typed details, the same whether or not they match anyone."""
        if self.id_number.strip():
            identity = f"id:{self.id_clean or fold(self.id_number)}"
        else:
            identity = f"name:{fold(self.full_name)}|{self.birth}|{self.gender}"
        phone = self.phone_national or fold(self.phone)
        return hashlib.sha256(f"{identity}|{phone}".encode()).hexdigest()


class OtpRequestRefused(Refusal):
    """Too many codes asked for; ``retry_after`` in seconds."""

    code = "rate_otp"
    status = 429

    def __init__(self, *, retry_after_seconds: int) -> None:
        minutes = max(1, (retry_after_seconds + 59) // 60)
        super().__init__(
            f"Bạn đã yêu cầu quá nhiều mã. Hãy thử lại sau {minutes} phút.",
            f"Too many codes were requested. Try again in {minutes} minutes.",
            retry_after=retry_after_seconds,
        )


class OtpOutcome(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"  # wrong code, tries left
    LOCKED = "locked"  # too many wrong codes: ask for a new one later
    EXPIRED = "expired"  # past 5 minutes, already used, or unknown


@dataclass(frozen=True)
class OtpCheck:
    outcome: OtpOutcome
    person_id: int | None = None
    tries_left: int = 0


def _code_hash(token: str, code: str) -> str:
    # Keyed: six digits are a million guesses, so a copy of the table alone must not give the codes away.
    return hmac.new(settings.SECRET_KEY.encode(), f"{token}:{code}".encode(), hashlib.sha256).hexdigest()


def _person_matching(claim: LookupClaim) -> Person | None:
    """The person the details and the phone on record both point to; the phone is part of the query, so a
    record whose phone differs is never found (and no code is sent)."""
    phone = claim.phone_national
    # A record merged into another one is found through its survivor only.
    people = Person.objects.filter(phone=phone or "-", merged_into__isnull=True)
    if claim.id_number.strip():
        people = people.filter(id_number=claim.id_clean or "-")
    else:
        birth = claim.birth or PartialDate(1)
        people = people.filter(
            name_key=fold(claim.full_name) or "-",
            birth_year=birth.year,
            birth_month=birth.month,
            birth_day=birth.day,
            gender=claim.gender or "-",
        )
    # Duplicate records of one person share ID and phone: the oldest stands for them.
    return people.order_by("pk").only("pk", "phone").first()


def _person_key(person_id: int | None, claim_key: str) -> str:
    return str(person_id) if person_id is not None else f"none:{claim_key}"


def _code_for(token: str) -> str:
    """The challenge's code, derived from its token with the server's secret: the code itself is never
    stored, not even in the queue of the background task that sends it."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"otp-code:{token}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**OTP_DIGITS:0{OTP_DIGITS}d}"


@transaction.atomic
def _challenge_create(*, claim: LookupClaim, address: str) -> OtpChallenge:
    claim_key = claim.key()
    decisions = [rate_hit(OTP_PER_ADDRESS, address), rate_hit(OTP_PER_CLAIM, claim_key)]
    if not all(d.allowed for d in decisions):
        raise OtpRequestRefused(retry_after_seconds=max(d.retry_after_seconds for d in decisions))
    person = _person_matching(claim)
    # Past the person's own limit nothing more is sent, but the answer stays the same as for a match.
    # Unmatched details count under their own key: the same writes either way.
    if not rate_hit(OTP_PER_PERSON, _person_key(person.pk if person else None, claim_key)).allowed:
        person = None
    now = clock.now()
    token = secrets.token_urlsafe(32)
    return OtpChallenge.objects.create(
        token=token,
        claim_key=claim_key,
        person=person,
        code_hash=_code_hash(token, _code_for(token)),
        address=address[:64],
        created_at=now,
        expires_at=now + OTP_LIFETIME,
    )


def otp_request(*, claim: LookupClaim, address: str) -> OtpChallenge:
    """Write a challenge for these details and queue the text of its code to the phone on record.

    The request does the same work whether or not the details matched: the message goes out from the
    background worker (``otp_message_send``), so a slow SMS gateway cannot tell a caller that a record
    exists. Raises ``OtpRequestRefused`` past the hourly limits (for any details alike).
    """
    from vaxreg.citizens.tasks import otp_message_send_task

    challenge = _challenge_create(claim=claim, address=address)
    otp_message_send_task.enqueue(challenge.pk)
    return challenge


@transaction.atomic
def otp_message_send(*, challenge_id: int) -> bool:
    """Text the code of a challenge to the phone on record, once; nothing for a challenge that matched
    nobody or has expired. Says whether a message went out."""
    # Locks the challenge row only (select_related would reach the nullable side of an outer join).
    challenge = (
        OtpChallenge.objects.select_for_update(of=("self",))
        .select_related("person")
        .filter(pk=challenge_id)
        .first()
    )
    if challenge is None or challenge.person is None or challenge.sent_at is not None:
        return False
    if clock.now() >= challenge.expires_at:
        return False
    code = _code_for(challenge.token)
    try:
        message_send(
            to=challenge.person.phone,
            text=both_languages(
                gettext_noop("Your VaxReg code is %(code)s, valid for 5 minutes. Do not share it."),
                {"code": code},
            ),
        )
    except MessageNotSent:
        logger.warning("one-time code %s could not be sent", challenge.pk)
        return False
    challenge.sent_at = clock.now()
    challenge.save(update_fields=["sent_at"])
    audit_event_record(
        action=AuditEvent.Action.CITIZEN_OTP_SENT,
        actor_id=None,
        object_type="person",
        object_id=str(challenge.person_id),
        detail={"challenge": challenge.pk, "address": challenge.address},
    )
    return True


@transaction.atomic
def otp_verify(*, token: str, code: str) -> OtpCheck:
    """Check a code against its challenge: once, within 5 minutes, at most 5 wrong tries.

    A challenge that matched nobody fails exactly like a wrong code, and locks after the same count.
    """
    challenge = OtpChallenge.objects.select_for_update().filter(token=token).first() if token else None
    now = clock.now()
    if challenge is None or challenge.used_at is not None or now >= challenge.expires_at:
        return OtpCheck(OtpOutcome.EXPIRED)
    if challenge.locked_at is not None or rate_count(WRONG_PER_CLAIM, challenge.claim_key) >= MAX_WRONG_CODES:
        return OtpCheck(OtpOutcome.LOCKED)
    person_key = _person_key(challenge.person_id, challenge.claim_key)
    person_locked = rate_count(WRONG_PER_PERSON, person_key) >= MAX_WRONG_CODES
    digits = "".join(ch for ch in code if ch.isdigit())
    right = hmac.compare_digest(challenge.code_hash, _code_hash(challenge.token, digits))
    if right and challenge.person_id is not None and not person_locked:
        challenge.used_at = now
        challenge.save(update_fields=["used_at"])
        audit_event_record(
            action=AuditEvent.Action.CITIZEN_LOOKUP,
            actor_id=None,
            object_type="person",
            object_id=str(challenge.person_id),
            detail={"challenge": challenge.pk, "address": challenge.address},
        )
        return OtpCheck(OtpOutcome.OK, person_id=challenge.person_id)
    challenge.failed_attempts += 1
    wrong_by_claim = rate_hit(WRONG_PER_CLAIM, challenge.claim_key).count
    rate_hit(WRONG_PER_PERSON, person_key)
    tries_left = MAX_WRONG_CODES - max(challenge.failed_attempts, wrong_by_claim)
    if tries_left <= 0:
        challenge.locked_at = now
    challenge.save(update_fields=["failed_attempts", "locked_at"])
    if tries_left <= 0:
        return OtpCheck(OtpOutcome.LOCKED)
    return OtpCheck(OtpOutcome.WRONG, tries_left=tries_left)


def otp_challenges_prune(*, older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
    """Delete challenges long past their 5 minutes (the sends stay in the audit log)."""
    deleted, _ = OtpChallenge.objects.filter(created_at__lt=clock.now() - older_than).delete()
    return deleted
