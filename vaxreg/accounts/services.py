"""Staff accounts: creation with a role and the unit that role answers for."""

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from vaxreg.accounts.models import Role, User
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.places.models import Commune, Facility, Province


class AccountRefused(Refusal, ValueError):
    """Something an account cannot do or have; the messages are shown to whoever asked."""

    def __str__(self) -> str:
        return self.bilingual()


class UserCreateError(AccountRefused):
    """A user that cannot be created."""


# Which unit each role must carry (police work in a commune like the health station).
_UNIT_OF_ROLE: dict[str, str | None] = {
    Role.NATIONAL: None,
    Role.ADMIN: None,
    Role.PROVINCE: "province",
    Role.COMMUNE: "commune",
    Role.POLICE: "commune",
    Role.FACILITY: "facility",
}

_UNIT_VI = {"province": "tỉnh", "commune": "xã", "facility": "cơ sở tiêm"}


def password_generate() -> str:
    """A random password of 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


def _units_resolve(
    *, role: str, province_code: str | None, commune_code: str | None, facility_code: str | None
) -> tuple[Province | None, Commune | None, Facility | None]:
    unit = _UNIT_OF_ROLE[role]
    given = {
        k
        for k, v in {"province": province_code, "commune": commune_code, "facility": facility_code}.items()
        if v
    }
    if unit is None:
        if given:
            raise UserCreateError(
                "Vai trò này xem toàn quốc, không gắn với đơn vị nào.",
                "This role reads the whole country and takes no unit.",
            )
        return None, None, None
    if given != {unit}:
        raise UserCreateError(
            f"Vai trò {role} cần đúng một mã {_UNIT_VI[unit]}.", f"Role {role} needs exactly one {unit} code."
        )
    if unit == "province":
        province = Province.objects.filter(code=province_code).first()
        if province is None:
            raise UserCreateError(
                f"Không có tỉnh mã {province_code}.", f"No province with code {province_code}."
            )
        return province, None, None
    if unit == "commune":
        commune = Commune.objects.select_related("province").filter(code=commune_code).first()
        if commune is None:
            raise UserCreateError(f"Không có xã mã {commune_code}.", f"No commune with code {commune_code}.")
        return commune.province, commune, None
    facility = Facility.objects.select_related("province").filter(code=facility_code).first()
    if facility is None:
        raise UserCreateError(
            f"Không có cơ sở tiêm mã {facility_code}.", f"No facility with code {facility_code}."
        )
    return facility.province, None, facility


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: Role | str,
    province_code: str | None = None,
    commune_code: str | None = None,
    facility_code: str | None = None,
    actor: User | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise UserCreateError("Thiếu tên đăng nhập.", "The username is missing.")
    if role not in _UNIT_OF_ROLE:
        raise UserCreateError(f"Vai trò không hợp lệ: {role}.", f"Unknown role: {role}.")
    role = Role(role)
    if User.objects.filter(username__iexact=username).exists():
        raise UserCreateError(f"Tên đăng nhập {username} đã có.", f"The username {username} is taken.")
    province, commune, facility = _units_resolve(
        role=role, province_code=province_code, commune_code=commune_code, facility_code=facility_code
    )
    user = User(username=username, role=role, province=province, commune=commune, facility=facility)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise UserCreateError("Mật khẩu quá yếu: " + " ".join(exc.messages), "Password too weak.") from exc
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_event_record(
        action=AuditEvent.Action.USER_CREATED,
        actor_id=actor.pk if actor else None,
        object_type="user",
        object_id=str(user.pk),
        detail={
            "username": user.username,
            "role": role.value,
            "province": user.province_id,
            "commune": user.commune_id,
            "facility": facility.code if facility else None,
        },
    )
    return user
