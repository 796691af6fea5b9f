from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from vaxreg.core.database import HomeQuerySet


class Gender(models.TextChoices):
    MALE = "M", "Nam"
    FEMALE = "F", "Nữ"
    OTHER = "O", "Khác"
    UNKNOWN = "", "Không rõ"


class IdType(models.TextChoices):
    CCCD = "CCCD", "CCCD"
    CMND = "CMND", "CMND"
    PASSPORT = "PASSPORT", "Hộ chiếu"
    INVALID = "INVALID", "Không hợp lệ"
    NONE = "", "Không có"


class VerificationState(models.TextChoices):
    UNVERIFIED = "unverified", "Chưa xác minh"
    VERIFIED = "verified", "Đã xác minh"
    UNVERIFIABLE = "unverifiable", "Không xác minh được"


# What pages show for these codes, in the reader's language (the choices above keep the archive's Vietnamese
# labels, which the certificate and the FHIR exchange print as they are); registered in PeopleConfig.ready.
GENDER_LABELS = {"M": _("Male"), "F": _("Female"), "O": _("Other"), "": _("Unknown")}
ID_TYPE_LABELS = {
    "CCCD": _("Citizen ID (CCCD)"),
    "CMND": _("Old ID card (CMND)"),
    "PASSPORT": _("Passport"),
    "INVALID": _("Invalid number"),
    "": _("None"),
}
VERIFICATION_STATE_LABELS = {
    "unverified": _("Not verified"),
    "verified": _("Verified"),
    "unverifiable": _("Cannot be verified"),
}


NO_PROVINCE = "00"  # the home of a person with no province (no such province code exists)


def home_of(province_code: str | None) -> str:
    """The home a person of this province is stored under (see ``Person.home``)."""
    return province_code or NO_PROVINCE


class PersonQuerySet(HomeQuerySet):
    """Persons; a person that moves home takes its doses and findings along (on Citus, where a move is a
    copy)."""

    followers = (("vaccinations.Dose", "person_id"), ("quality.Finding", "person_id"))


class Person(models.Model):
    """A citizen as the dose records describe them: possibly incomplete, possibly wrong."""

    full_name = models.CharField(max_length=200, blank=True, default="")  # as entered, NFC
    # folded: no diacritics, lower case
    name_key = models.CharField(
        max_length=200, blank=True, default="", db_collation=settings.VAXREG_KEY_COLLATION
    )
    # Partial birth dates are first-class: elderly people often know only the year.
    birth_year = models.SmallIntegerField(null=True, blank=True)
    birth_month = models.SmallIntegerField(null=True, blank=True)
    birth_day = models.SmallIntegerField(null=True, blank=True)
    birth_date_raw = models.CharField(max_length=64, blank=True, default="")  # kept when it could not be read
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    id_type = models.CharField(max_length=8, choices=IdType.choices, blank=True, default="")
    id_number = models.CharField(
        max_length=32, blank=True, default="", db_collation=settings.VAXREG_KEY_COLLATION
    )
    id_repaired = models.BooleanField(default=False)  # leading zeros restored on import
    phone = models.CharField(
        max_length=32, blank=True, default="", db_collation=settings.VAXREG_KEY_COLLATION
    )
    address = models.CharField(max_length=300, blank=True, default="")
    # Indexed in Meta: the index Django makes for a key to a text column comes with a second, LIKE-only twin
    # that nothing queries and that every imported person would pay for.
    commune = models.ForeignKey(
        "places.Commune", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    legacy_commune_code = models.CharField(max_length=5, blank=True, default="")
    commune_code_raw = models.CharField(max_length=16, blank=True, default="")
    # Residence province, else the province of the first dose: the scope (and partition) key.
    # No index of its own: scoping by province goes through the commune or the doses' facilities, and at
    # national scale the province is the partition key.
    province = models.ForeignKey(
        "places.Province", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The province the person's rows are stored under: its province, or NO_PROVINCE. On a Citus cluster the
    # per-person tables are spread over the servers by it (docs/scale.md), and Citus needs a value that is
    # never NULL there, written by whoever writes the row (not computed by the database). The constraint
    # person_home_is_province keeps it equal to the province on every database.
    home = models.CharField(max_length=2, default=NO_PROVINCE, editable=False)
    verification_state = models.CharField(
        max_length=16, choices=VerificationState.choices, default=VerificationState.UNVERIFIED
    )
    created_batch = models.ForeignKey(
        "imports.ImportBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.IntegerField(default=1)  # optimistic locking for concurrent corrections
    unparsed = models.JSONField(null=True, blank=True)  # field → text as entered, when it could not be read
    # Set when this record was merged into another one (the same citizen recorded twice): kept, never
    # deleted, so the merge can be undone; searches leave it out and its page points to the survivor.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = PersonQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["id_number"], name="person_id_number_idx"),
            models.Index(fields=["name_key", "birth_year"], name="person_name_key_idx"),
            models.Index(fields=["phone"], name="person_phone_idx"),
            models.Index(fields=["commune"], name="person_commune_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="person_birth_month_range",
                condition=Q(birth_month__isnull=True) | Q(birth_month__gte=1, birth_month__lte=12),
            ),
            models.CheckConstraint(
                name="person_birth_day_range",
                condition=Q(birth_day__isnull=True) | Q(birth_day__gte=1, birth_day__lte=31),
            ),
            models.CheckConstraint(
                name="person_birth_day_needs_month",
                condition=Q(birth_day__isnull=True) | Q(birth_month__isnull=False),
            ),
            models.CheckConstraint(
                name="person_birth_month_needs_year",
                condition=Q(birth_month__isnull=True) | Q(birth_year__isnull=False),
            ),
            models.CheckConstraint(name="person_gender_valid", condition=Q(gender__in=["M", "F", "O", ""])),
            models.CheckConstraint(
                name="person_home_is_province",
                condition=Q(province__isnull=True, home=NO_PROVINCE)
                | Q(province__isnull=False, home=F("province")),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or f"#{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("update_fields") is None:
            self.home = home_of(self.province_id)
        else:
            kwargs["update_fields"] = self.fields_with_home(kwargs["update_fields"])
        super().save(*args, **kwargs)

    def fields_with_home(self, fields: Iterable[str]) -> list[str]:
        """The fields a write of ``fields`` must write: with the home, set from the province, when the
        province is among them (every update of chosen fields goes through this, or the constraint
        person_home_is_province refuses it)."""
        fields = list(fields)
        if {"province", "province_id"} & set(fields):
            self.home = home_of(self.province_id)
            fields.append("home")
        return fields

    @property
    def birth_date_display(self) -> str:
        if self.birth_year is None:
            return self.birth_date_raw
        if self.birth_month is None:
            return f"{self.birth_year}"
        if self.birth_day is None:
            return f"{self.birth_month:02d}/{self.birth_year}"
        return f"{self.birth_day:02d}/{self.birth_month:02d}/{self.birth_year}"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)


def mask_id_number(value: str) -> str:
    """Lists show only the last three characters: 001090012345 → •••••••••345."""
    if not value:
        return ""
    if len(value) <= 4:
        return "•" * len(value)
    return "•" * (len(value) - 3) + value[-3:]
