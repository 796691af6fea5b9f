from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy


class CaseState(models.TextChoices):
    OPEN = "open", pgettext_lazy("case state", "open")
    IN_PROGRESS = "in_progress", pgettext_lazy("case state", "in progress")
    ESCALATED = "escalated", pgettext_lazy("case state", "escalated")
    MATCHED = "matched", pgettext_lazy("case state", "matched")
    NOT_FOUND = "not_found", pgettext_lazy("case state", "not found")
    RESOLVED = "resolved", pgettext_lazy("case state", "resolved")
    UNVERIFIABLE = "unverifiable", pgettext_lazy("case state", "unverifiable")


ACTIVE_STATES = (
    CaseState.OPEN,
    CaseState.IN_PROGRESS,
    CaseState.ESCALATED,
    CaseState.MATCHED,
    CaseState.NOT_FOUND,
)
CLOSED_STATES = (CaseState.RESOLVED, CaseState.UNVERIFIABLE)


class VerificationCase(models.Model):
    """The work of making one person's record right, in the commune that answers for them (SPEC §6)."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="verification_cases")
    # Where the person lives, or where they were vaccinated when that is unknown.
    commune = models.ForeignKey("places.Commune", on_delete=models.PROTECT, related_name="+", db_index=False)
    province = models.ForeignKey(
        "places.Province", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # The facility of the person's latest dose: worklists filter by it.
    facility = models.ForeignKey(
        "places.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=16, choices=CaseState.choices, default=CaseState.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    codes = models.JSONField(default=list)  # the blocking rule codes that opened it, kept current
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, default="")  # what was done, or why it stays as it is
    # What the police verified (SPEC §6): result and the identity as the population register has it.
    police_result = models.CharField(max_length=16, blank=True, default="")
    verified_identity = models.JSONField(default=dict, blank=True)
    version = models.IntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(state__in=[s.value for s in ACTIVE_STATES]),
                name="case_one_active_per_person",
            ),
            models.CheckConstraint(
                name="case_state_valid", condition=Q(state__in=[s.value for s in CaseState])
            ),
            models.CheckConstraint(
                name="case_closed_consistent",
                condition=Q(state__in=[s.value for s in CLOSED_STATES], closed_at__isnull=False)
                | Q(state__in=[s.value for s in ACTIVE_STATES], closed_at__isnull=True),
            ),
        ]
        indexes = [
            models.Index(fields=["commune", "state", "opened_at"], name="case_commune_state_idx"),
            models.Index(fields=["province", "state"], name="case_province_state_idx"),
            models.Index(fields=["assigned_to", "state"], name="case_assignee_idx"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


class ContactChannel(models.TextChoices):
    PHONE = "phone", pgettext_lazy("contact channel", "phone")
    SMS = "sms", pgettext_lazy("contact channel", "SMS")
    VISIT = "visit", pgettext_lazy("contact channel", "home visit")
    IN_PERSON = "in_person", pgettext_lazy("contact channel", "at the station")
    OTHER = "other", pgettext_lazy("contact channel", "other")


class ContactOutcome(models.TextChoices):
    REACHED = "reached", pgettext_lazy("contact outcome", "reached")
    NO_ANSWER = "no_answer", pgettext_lazy("contact outcome", "no answer")
    WRONG_NUMBER = "wrong_number", pgettext_lazy("contact outcome", "wrong number")
    MOVED = "moved", pgettext_lazy("contact outcome", "moved away")
    REFUSED = "refused", pgettext_lazy("contact outcome", "refused")


class ContactAttempt(models.Model):
    case = models.ForeignKey(VerificationCase, on_delete=models.PROTECT, related_name="contacts")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=16, choices=ContactChannel.choices)
    outcome = models.CharField(max_length=16, choices=ContactOutcome.choices)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                name="contact_channel_valid", condition=Q(channel__in=ContactChannel.values)
            ),
            models.CheckConstraint(
                name="contact_outcome_valid", condition=Q(outcome__in=ContactOutcome.values)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.outcome}"
