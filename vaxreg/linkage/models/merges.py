"""A merge of two records of one citizen, and what is needed to undo it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy


class MergeSource(models.TextChoices):
    REVIEW = "review", pgettext_lazy("merge source", "decided in review")
    AUTO = "auto-merge", pgettext_lazy("merge source", "merged automatically (same CCCD, very likely)")


class PersonMerge(models.Model):
    """``merged`` was found to be the same citizen as ``survivor``: its doses, findings, cases, complaints
    and certificates now belong to the survivor, and the survivor carries the field values chosen.

    ``snapshot`` is everything the merge changed, as it was before (both persons' fields, every moved
    row's previous owner and state); ``after`` is the same things as the merge left them, so that an undo
    can tell whether a later change touched what it would restore. Kept for ever; an undo is a new change
    (``undone_at``), not a deletion.
    """

    survivor = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=MergeSource.choices, default=MergeSource.REVIEW)
    reason = models.TextField()
    field_choices = models.JSONField(default=dict)  # {field group: "survivor" | "merged"}
    snapshot = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_at = models.DateTimeField()
    certificate = models.ForeignKey(  # the survivor's certificate the merge issued, if it qualified
        "certificates.Certificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    undo_reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(name="merge_two_persons", condition=~Q(survivor=models.F("merged"))),
            # A record is merged away once at a time; undone merges stay as history.
            models.UniqueConstraint(
                fields=["merged"], condition=Q(undone_at__isnull=True), name="merge_one_live_per_merged"
            ),
            models.CheckConstraint(
                name="merge_source_valid", condition=Q(source__in=[s.value for s in MergeSource])
            ),
        ]
        indexes = [
            models.Index(fields=["survivor", "undone_at"], name="merge_survivor_idx"),
            models.Index(fields=["source", "merged_at"], name="merge_source_idx"),
        ]

    def __str__(self) -> str:
        return f"merge {self.pk}: #{self.merged_id} → #{self.survivor_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
