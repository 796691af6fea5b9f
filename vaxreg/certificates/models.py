from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import pgettext_lazy


class RevocationReason(models.TextChoices):
    CORRECTED = "corrected", pgettext_lazy("certificate revocation reason", "record corrected")
    SUPERSEDED = (
        "superseded",
        pgettext_lazy("certificate revocation reason", "a newer certificate was issued"),
    )
    WITHDRAWN = "withdrawn", pgettext_lazy("certificate revocation reason", "no longer qualifies")


class Certificate(models.Model):
    """One signed vaccination certificate (EU DCC / HCERT, SPEC §8) as it was issued.

    The signed text is kept exactly as issued: the QR code and the PDF are drawn from it again on every
    download, so what a citizen prints later is byte for byte what was signed.
    """

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="certificates")
    uvci = models.CharField(max_length=80, unique=True)
    # SHA-256 (hex) of the UVCI: what the published revocation list carries and verifiers look up.
    uvci_sha256 = models.CharField(max_length=64, unique=True)
    alg = models.CharField(max_length=8)
    kid = models.CharField(max_length=16)  # base64 of the 8-byte key identifier
    hcert = models.TextField()  # "HC1:..."
    payload = models.JSONField()  # the DCC JSON that was signed
    dose_ids = models.JSONField(default=list)  # the doses the certificate stands for
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, blank=True, default="", choices=RevocationReason.choices)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces"
    )

    class Meta:
        constraints = [
            # Issuing twice at once (two taps on "get my certificate") cannot leave two current ones.
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(revoked_at__isnull=True),
                name="certificate_one_current_per_person",
            ),
            models.CheckConstraint(
                name="certificate_expires_after_issue", condition=Q(expires_at__gt=F("issued_at"))
            ),
            models.CheckConstraint(
                name="certificate_revocation_consistent",
                condition=Q(revoked_at__isnull=True, revoked_reason="")
                | Q(revoked_at__isnull=False, revoked_reason__in=RevocationReason.values),
            ),
            models.CheckConstraint(
                name="certificate_replaced_only_when_revoked",
                condition=Q(replaced_by__isnull=True) | Q(revoked_at__isnull=False),
            ),
            models.CheckConstraint(name="certificate_alg_valid", condition=Q(alg__in=["PS256", "ES256"])),
        ]
        indexes = [models.Index(fields=["revoked_at"], name="certificate_revoked_idx")]

    def __str__(self) -> str:
        return self.uvci

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
