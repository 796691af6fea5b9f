from django.conf import settings
from django.db import models
from django.db.models import F, Q


class PairState(models.TextChoices):
    OPEN = "open", "Chờ xem xét"
    MERGED = "merged", "Đã gộp"
    NOT_SAME = "not_same", "Không phải một người"
    SKIPPED = "skipped", "Bỏ qua"


class SuspectedPair(models.Model):
    """Two person records the linkage model scores as probably one citizen (person a < person b).

    ``evidence`` keeps the level of each comparison (``{"id_number": "same", ...}``) and its weight, which the
    review page puts in words. ``fingerprint`` is a hash of both persons' compared fields when the pair was
    last scored: a pair decided "not the same" is suggested again only when one of them has changed since.
    """

    person_a = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", db_index=False)
    person_b = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    probability = models.FloatField()
    match_weight = models.FloatField()
    evidence = models.JSONField(default=dict)
    model_version = models.SmallIntegerField()
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=PairState.choices, default=PairState.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    scored_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="linkage_pair_unique"),
            models.CheckConstraint(name="linkage_pair_ordered", condition=Q(person_a__lt=F("person_b"))),
            models.CheckConstraint(
                name="linkage_pair_state_valid",
                condition=Q(state__in=["open", "merged", "not_same", "skipped"]),
            ),
        ]
        indexes = [models.Index(fields=["state", "-probability"], name="linkage_pair_queue_idx")]

    def __str__(self) -> str:
        return f"{self.person_a_id}~{self.person_b_id} {self.probability:.3f} {self.state}"
