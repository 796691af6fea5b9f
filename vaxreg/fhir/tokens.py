"""API tokens of facility systems: create (the secret is shown once), revoke, authenticate a request.

A secret reads ``vxr_<prefix>_<random>``. The prefix finds the token; the SHA-256 of the whole secret,
compared in constant time, proves it. A secret has 256 random bits, so a fast hash is enough: there is
nothing to guess that a slow password hash would protect.
"""

import datetime as dt
import hashlib
import hmac
import secrets

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.jurisdiction import Jurisdiction, Scope
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.fhir.models import ApiToken
from vaxreg.places.models import Facility

SECRET_PREFIX = "vxr"
# Writing the last use on every request would turn each read into a write: once a minute is enough to
# tell a token in use from a forgotten one.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


class ApiTokenError(Refusal):
    """A token that cannot be created or revoked as asked."""


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _secret_parts(secret: str) -> tuple[str, str] | None:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != SECRET_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@transaction.atomic
def api_token_create(*, facility_code: str, name: str, actor_id: int | None) -> tuple[ApiToken, str]:
    """A new token for a facility's system and its secret, which is never stored nor shown again."""
    facility = Facility.objects.filter(code=facility_code.strip()).first()
    if facility is None:
        raise ApiTokenError(
            f"Mã cơ sở tiêm “{facility_code}” không có trong danh mục.",
            f"The facility code “{facility_code}” is not in the facility list.",
        )
    name = name.strip()
    if not name:
        raise ApiTokenError(
            "Cần đặt tên cho khoá (tên phần mềm).", "The token needs a name (the software's name)."
        )
    for _ in range(5):
        prefix = secrets.token_hex(4)
        secret = f"{SECRET_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    facility=facility,
                    name=name[:200],
                    prefix=prefix,
                    secret_sha256=_sha256(secret),
                    created_by_id=actor_id,
                    created_at=clock.now(),
                )
            break
        except IntegrityError:  # two tokens drew the same prefix: draw again
            continue
    else:
        raise RuntimeError("no free token prefix after 5 draws")
    audit_event_record(
        action=AuditEvent.Action.API_TOKEN_CREATED,
        actor_id=actor_id,
        object_type="api_token",
        object_id=str(token.pk),
        detail={"facility": facility.code, "name": token.name, "prefix": prefix},
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token_id: int, actor_id: int | None) -> ApiToken:
    """From now on the token's requests get 401; the token row stays, with who revoked it and when."""
    token = ApiToken.objects.select_for_update().select_related("facility").filter(pk=token_id).first()
    if token is None:
        raise ApiTokenError(f"Không có khoá số {token_id}.", f"There is no token {token_id}.")
    if token.revoked_at is not None:
        raise ApiTokenError(
            f"Khoá {token.prefix} đã bị thu hồi lúc {token.revoked_at:%Y-%m-%d %H:%M}.",
            f"Token {token.prefix} was already revoked at {token.revoked_at:%Y-%m-%d %H:%M}.",
        )
    token.revoked_at = clock.now()
    token.revoked_by_id = actor_id
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_event_record(
        action=AuditEvent.Action.API_TOKEN_REVOKED,
        actor_id=actor_id,
        object_type="api_token",
        object_id=str(token.pk),
        detail={"facility": token.facility.code, "name": token.name, "prefix": token.prefix},
    )
    return token


def api_token_authenticate(*, secret: str) -> ApiToken | None:
    """The active token this secret belongs to, or None (unknown, malformed or revoked look the same)."""
    parts = _secret_parts(secret.strip())
    if parts is None:
        return None
    token = ApiToken.objects.select_related("facility").filter(prefix=parts[0]).first()
    if token is None or not hmac.compare_digest(token.secret_sha256, _sha256(secret.strip())):
        return None
    if token.revoked_at is not None:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        token.save(update_fields=["last_used_at"])
    return token


def api_token_find(*, reference: str) -> ApiToken | None:
    """A token by its number or its prefix (as ``fhir_token list`` shows them)."""
    tokens = ApiToken.objects.select_related("facility")
    if reference.isdigit():
        found = tokens.filter(pk=int(reference)).first()
        if found is not None:
            return found
    return tokens.filter(prefix=reference.strip().lower()).first()


def api_tokens_list(*, facility_code: str | None = None) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.select_related("facility", "created_by", "revoked_by").order_by(
        "facility__code", "id"
    )
    if facility_code:
        tokens = tokens.filter(facility__code=facility_code.strip())
    return tokens


def token_jurisdiction(token: ApiToken) -> Jurisdiction:
    """A facility system reads what the facility's own staff read: the persons it gave a dose to."""
    return Jurisdiction(
        scope=Scope.FACILITY, province_code=token.facility.province_id, facility_id=token.facility_id
    )
