from django.db import models
from django.db.models import Q

from vaxreg.quality.messages import finding_message


class Severity(models.TextChoices):
    BLOCKING = "blocking", "Chặn"
    WARNING = "warning", "Cảnh báo"


class Finding(models.Model):
    """One data-quality rule that a person (or one of its doses) breaks; closed, never deleted, when fixed."""

    person = models.ForeignKey(
        "people.Person", on_delete=models.PROTECT, related_name="findings", db_index=False
    )
    dose = models.ForeignKey(
        "vaccinations.Dose", null=True, blank=True, on_delete=models.PROTECT, related_name="findings"
    )
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

    class Meta:
        constraints = [
            # Two partial constraints rather than nulls_distinct=False, which SQLite does not support.
            models.UniqueConstraint(
                fields=["person", "code"],
                condition=Q(is_open=True, dose__isnull=True),
                name="finding_open_person_unique",
            ),
            models.UniqueConstraint(
                fields=["person", "dose", "code"],
                condition=Q(is_open=True, dose__isnull=False),
                name="finding_open_dose_unique",
            ),
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
            models.Index(fields=["person", "is_open"], name="finding_person_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} #{self.person_id}"

    @property
    def message_vi(self) -> str:
        """The Vietnamese message as every reader sees it: ID and phone numbers masked."""
        return finding_message(self.template_vi, self.detail)

    @property
    def message_en(self) -> str:
        return finding_message(self.template_en, self.detail)
