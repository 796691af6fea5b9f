from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy

from vaxreg.core.models import SourceType


class AccessChangeState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("access change state", "awaiting confirmation")
    CONFIRMED = "confirmed", pgettext_lazy("access change state", "confirmed and applied")
    CANCELLED = "cancelled", pgettext_lazy("access change state", "cancelled")
    EXPIRED = "expired", pgettext_lazy("access change state", "expired")


class AccessChangeConfirmer(models.TextChoices):
    """Who made the second step."""

    CITIZEN = (
        "citizen",
        pgettext_lazy("access change confirmer", "the citizen, after a code to the phone on record"),
    )
    STATION = "station", pgettext_lazy("access change confirmer", "verified by the commune health station")


class AccessChange(models.Model):
    """A change of a field that opens a citizen's own access to their record, asked for on someone's word.

    The phone on record is where the citizen's one-time code goes, the ID number is what the lookup asks
    for, and the commune of residence decides which units read the record. A complaint approval may ask to
    change them, but never changes them alone: the change waits here until a second step — the citizen
    confirms it after a one-time code sent to the phone on record, or the commune health station that has
    the person in its jurisdiction confirms it after checking their papers. ``old_values`` are the values
    when it was asked: a change confirmed after one of them moved on is refused, not applied over it.
    """

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    changes = models.JSONField()  # {field: new value}, fields among ACCESS_FIELDS
    old_values = models.JSONField()  # {field: value when asked}
    reason = models.TextField()
    source_type = models.CharField(max_length=16, choices=SourceType.choices)
    source_id = models.CharField(max_length=64, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    state = models.CharField(
        max_length=16, choices=AccessChangeState.choices, default=AccessChangeState.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_how = models.CharField(
        max_length=16, blank=True, default="", choices=AccessChangeConfirmer.choices
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="access_change_state_valid", condition=Q(state__in=AccessChangeState.values)
            ),
            models.CheckConstraint(
                name="access_change_decided_when_closed",
                condition=Q(state="pending", decided_at__isnull=True)
                | Q(~Q(state="pending"), decided_at__isnull=False),
            ),
            models.CheckConstraint(
                name="access_change_confirmed_says_how",
                condition=~Q(state="confirmed") | ~Q(confirmed_how=""),
            ),
        ]
        indexes = [
            models.Index(fields=["person", "state"], name="access_change_person_idx"),
            models.Index(fields=["source_type", "source_id"], name="access_change_source_idx"),
            models.Index(fields=["state", "expires_at"], name="access_change_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"access change {self.pk} of person {self.person_id} ({self.state})"
