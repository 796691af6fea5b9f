from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vaxreg.core.database import HomeQuerySet, home_fill, relation_at_home


class Vaccine(models.Model):
    """A catalogue entry; intervals and ages live in data (reference load), not in code."""

    code = models.CharField(max_length=32, primary_key=True)
    name = models.CharField(max_length=100)
    manufacturer = models.CharField(max_length=100)
    primary_doses = models.SmallIntegerField()
    eu_product = models.CharField(max_length=64, blank=True, default="")  # DCC value set "mp"
    eu_manufacturer = models.CharField(max_length=64, blank=True, default="")  # DCC value set "ma"
    eu_prophylaxis = models.CharField(max_length=32, blank=True, default="")  # DCC value set "vp"
    min_age_months = models.SmallIntegerField(default=216)
    # {"2": 56, "3": 90, ...}: minimum days between dose n-1 and dose n.
    min_interval_days = models.JSONField(default=dict)
    parameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class VaccineAlias(models.Model):
    """A name as people type it ("AZ", "Pfizer", "Vero cell"), folded, pointing at its vaccine."""

    alias_key = models.CharField(max_length=100, unique=True)
    vaccine = models.ForeignKey(Vaccine, on_delete=models.CASCADE, related_name="aliases")

    def __str__(self) -> str:
        return self.alias_key


class CatalogueParameter(models.Model):
    """A rule parameter kept in data (campaign start, age thresholds, ...)."""

    key = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField()
    description = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.key


class DoseStatus(models.TextChoices):
    VALID = "valid", "Hợp lệ"
    ENTERED_IN_ERROR = "entered_in_error", "Nhập nhầm"


# What pages show for a dose's status, in the reader's language; registered in VaccinationsConfig.ready.
DOSE_STATUS_LABELS = {"valid": _("Valid"), "entered_in_error": _("Entered in error")}


class DoseQuerySet(HomeQuerySet):
    """Doses; a dose given to another person is stored under that person's home."""

    home_from = ("people.Person", "person_id")


class Dose(models.Model):
    """One vaccination as a facility recorded it."""

    # Foreign keys whose lookups the composite indexes below already serve carry no index of their own:
    # every index costs time on each of millions of imported rows.
    person_id = models.BigIntegerField()
    person = relation_at_home("people.Person", "person_id", related_name="doses")
    vaccine = models.ForeignKey(
        Vaccine, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    vaccine_raw = models.CharField(max_length=100, blank=True, default="")
    lot_number = models.CharField(max_length=64, blank=True, default="")
    vaccination_date = models.DateField()
    dose_number = models.SmallIntegerField(null=True, blank=True)
    facility = models.ForeignKey(
        "places.Facility", on_delete=models.PROTECT, related_name="doses", db_index=False
    )
    source_record_id = models.CharField(max_length=64, db_collation=settings.VAXREG_KEY_COLLATION)
    status = models.CharField(max_length=20, choices=DoseStatus.choices, default=DoseStatus.VALID)
    signed_off = models.BooleanField(default=False)
    created_batch = models.ForeignKey(
        "imports.ImportBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    source_row = models.IntegerField(null=True, blank=True)  # the row of created_batch it came from
    source_hash = models.CharField(
        max_length=32, blank=True, default=""
    )  # fingerprint of the last imported row
    unparsed = models.JSONField(null=True, blank=True)  # field → text as entered, when it could not be read
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.IntegerField(default=1)
    # Its person's home (``Person.home``): on Citus a dose is stored with its person. Written by whoever
    # writes the dose (the import from the person it matched; ``save`` from the person otherwise) and moved
    # with the person (``rows_follow_person``); never blank (dose_home_set).
    home = models.CharField(max_length=2, default="", editable=False)

    objects = DoseQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "source_record_id"], name="dose_source_record_unique"
            ),
            models.CheckConstraint(name="dose_home_set", condition=~Q(home="")),
            models.CheckConstraint(
                name="dose_number_range",
                condition=Q(dose_number__isnull=True) | Q(dose_number__gte=1, dose_number__lte=4),
            ),
            models.CheckConstraint(name="dose_source_record_not_blank", condition=~Q(source_record_id="")),
        ]
        indexes = [
            models.Index(fields=["person_id", "vaccination_date"], name="dose_person_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.facility_id}/{self.source_record_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A new dose given only its person's id: stored where its person is. (Given the person, the relation
        # has set the home already; a stored dose always has one, dose_home_set.)
        home_fill(self)
        super().save(*args, **kwargs)


class DaySignOff(models.Model):
    """The head of a facility has reviewed and signed off one day's doses (SPEC §6): from then on those
    doses change only through the correction service, with a reason."""

    facility = models.ForeignKey(
        "places.Facility", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    day = models.DateField()
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    doses = models.IntegerField()  # how many doses the day had when it was signed off
    note = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["facility", "day"], name="signoff_facility_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.facility_id} {self.day}"
