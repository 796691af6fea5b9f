from django.db import models
from django.db.models import F, Q


class OtpChallenge(models.Model):
    """One one-time code asked for on the lookup page.

    A challenge is written for every request, also when the details matched nobody (``person`` is then
    empty and no code is sent): the page and the work behind it stay the same either way. The browser
    holds only ``token``; the code is kept only as a keyed hash.
    """

    token = models.CharField(max_length=64, unique=True)
    claim_key = models.CharField(max_length=64)  # hash of the typed details: limits hold across challenges
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    code_hash = models.CharField(max_length=64)
    address = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)  # the code went out to the phone on record
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.SmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="otp_expires_after_created", condition=Q(expires_at__gt=F("created_at"))
            ),
            models.CheckConstraint(name="otp_failed_attempts_range", condition=Q(failed_attempts__gte=0)),
            # A code that opened a record was right, so it cannot also be the one that locked it.
            models.CheckConstraint(
                name="otp_used_or_locked", condition=Q(used_at__isnull=True) | Q(locked_at__isnull=True)
            ),
            models.CheckConstraint(
                name="otp_sent_only_to_a_person", condition=Q(sent_at__isnull=True) | Q(person__isnull=False)
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="otp_created_idx")]  # pruning old ones

    def __str__(self) -> str:
        return f"OTP {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"
