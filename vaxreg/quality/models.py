from typing import Any

from django.db import models
from django.db.models import Q

from vaxreg.core.database import HomeQuerySet, home_fill, relation_at_home
from vaxreg.quality.messages import finding_message


class Severity(models.TextChoices):
    BLOCKING = "blocking", "Chặn"
    WARNING = "warning", "Cảnh báo"


class FindingQuerySet(HomeQuerySet):
    """Findings; a finding moved to another person (a merge, its undo) is stored under that one's home."""

    home_from = ("people.Person", "person_id")


class Finding(models.Model):
    """One data-quality rule that a person (or one of its doses) breaks; closed, never deleted, when fixed."""

    # Its person and dose as relations on the home (``(home, person_id) → (home, id)``), as a dose's person:
    # every join the ORM writes from a finding carries the home (on Citus, a join inside one shard).
    person_id = models.BigIntegerField()
    person = relation_at_home("people.Person", "person_id", related_name="findings")
    dose_id = models.BigIntegerField(null=True, blank=True)
    dose = relation_at_home("vaccinations.Dose", "dose_id", related_name="findings", null=True)
    code = models.CharField(max_length=32)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    fields = models.JSONField(default=list)  # template field aliases (SPEC §3) the finding is about
    # The message with a placeholder for each value read from the record ("{id_number}"), filled from
    # ``detail`` when it is read (``message_vi``, ``message_en``): no ID or phone number is stored as text.
    template_vi = models.TextField()
    template_en = models.TextField()
    detail = models.JSONField(default=dict)  # every value the message names, e.g. {"cccd_gender": "F", ...}
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    is_open = models.BooleanField(default=True)
    # Its person's home (``Person.home``): on Citus a finding is stored with its person. Written by whoever
    # writes the finding and moved with the person (``rows_follow_person``); never blank (finding_home_set).
    home = models.CharField(max_length=2, default="", editable=False)

    objects = FindingQuerySet.as_manager()

    class Meta:
        constraints = [
            # Two partial constraints rather than nulls_distinct=False, which SQLite does not support.
            models.UniqueConstraint(
                fields=["person_id", "code"],
                condition=Q(is_open=True, dose_id__isnull=True),
                name="finding_open_person_unique",
            ),
            models.UniqueConstraint(
                fields=["person_id", "dose_id", "code"],
                condition=Q(is_open=True, dose_id__isnull=False),
                name="finding_open_dose_unique",
            ),
            models.CheckConstraint(name="finding_home_set", condition=~Q(home="")),
            models.CheckConstraint(
                name="finding_closed_consistent",
                condition=Q(is_open=True, closed_at__isnull=True) | Q(is_open=False, closed_at__isnull=False),
            ),
            models.CheckConstraint(
                name="finding_severity_valid", condition=Q(severity__in=["blocking", "warning"])
            ),
        ]
        indexes = [
            models.Index(fields=["code", "is_open"], name="finding_code_open_idx"),
            models.Index(fields=["person_id", "is_open"], name="finding_person_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} #{self.person_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        home_fill(self)  # a new finding given only its person's id: stored where its person is
        super().save(*args, **kwargs)

    @property
    def message_vi(self) -> str:
        """The Vietnamese message as every reader sees it: ID and phone numbers masked."""
        return finding_message(self.template_vi, self.detail)

    @property
    def message_en(self) -> str:
        return finding_message(self.template_en, self.detail)
