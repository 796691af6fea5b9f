from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ApiToken(models.Model):
    """A facility system's key to the FHIR API. Only the SHA-256 of the secret is kept: the secret itself is
    shown once, when the token is created, and cannot be read back."""

    facility = models.ForeignKey("places.Facility", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    # The start of the secret, stored in clear, so that a request finds its token without a hash scan and a
    # listing can tell tokens apart.
    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["facility_id", "created_at", "id"]
        constraints = [
            models.CheckConstraint(name="api_token_hash_set", condition=~Q(secret_sha256="")),
            models.CheckConstraint(name="api_token_named", condition=~Q(name="")),
            models.CheckConstraint(
                name="api_token_revoked_after_created",
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=F("created_at")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class BundleSubmission(models.Model):
    """One Bundle a facility system posted, kept exactly as received whatever became of it, so that a
    refused request can be looked at, corrected and sent again (nothing a facility sends is lost)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Đã nhận"
        STORED = "stored", "Đã lưu"
        REFUSED = "refused", "Bị từ chối"

    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="submissions")
    facility = models.ForeignKey("places.Facility", on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()
    body = models.BinaryField()  # the request body, byte for byte as sent
    body_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    http_status = models.SmallIntegerField(null=True, blank=True)
    outcome = models.JSONField(null=True, blank=True)  # the OperationOutcome sent back when refused
    # The import batch the bundle went through, when it was stored.
    batch = models.OneToOneField(
        "imports.ImportBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="fhir_submission"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["facility", "received_at"], name="fhir_submission_facility_idx")]
        constraints = [
            models.CheckConstraint(
                name="fhir_submission_stored_has_batch",
                condition=~Q(status="stored") | Q(batch__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"bundle #{self.pk} ({self.status})"
