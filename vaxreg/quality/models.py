from django.db import models
from django.db.models import Q


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
    message_vi = models.TextField()
    message_en = models.TextField()
    detail = models.JSONField(default=dict)  # the conflicting values, e.g. {"cccd_gender": "F", ...}
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
