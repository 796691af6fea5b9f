from django.conf import settings
from django.db import models


class SourceType(models.TextChoices):
    IMPORT = "import", "import batch"
    CORRECTION = "correction", "correction"
    POLICE = "police", "police result"
    CASE = "case", "verification case"
    COMPLAINT = "complaint", "complaint"
    MERGE = "merge", "merge of two records of one person"
    SYSTEM = "system", "system"


class ChangeRecord(models.Model):
    """One changed field of one record: the append-only history behind every person and dose.

    Rows are only ever inserted. A record's creation is traced by its ``created_batch`` (or a
    ``created`` row when it is created outside an import); every later change adds one row per field.
    """

    entity = models.CharField(max_length=32)
    entity_id = models.BigIntegerField()
    field = models.CharField(max_length=64)
    # NULL is "no value", which is not the same as an empty text.
    old_value = models.TextField(null=True, blank=True)  # noqa: DJ001
    new_value = models.TextField(null=True, blank=True)  # noqa: DJ001
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    reason = models.TextField(blank=True, default="")
    source_type = models.CharField(max_length=16, choices=SourceType.choices)
    source_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["entity", "entity_id", "at"], name="change_entity_idx")]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.entity}#{self.entity_id}.{self.field}: {self.old_value!r} → {self.new_value!r}"


class AuditEvent(models.Model):
    """Who did what outside the record history: logins, full-ID reads, user and import actions."""

    class Action(models.TextChoices):
        FULL_ID_READ = "full_id_read", "full ID number read"
        USER_CREATED = "user_created", "user created"
        IMPORT_STARTED = "import_started", "import started"
        IMPORT_FINISHED = "import_finished", "import finished"
        IMPORT_INTERRUPTED = "import_interrupted", "import found interrupted (its process had ended)"
        EXPORT = "export", "export"
        REFERENCE_LOADED = "reference_loaded", "reference data loaded"
        DAY_SIGNED_OFF = "day_signed_off", "day of doses signed off"
        COMPLAINT_PROOF_READ = "complaint_proof_read", "complaint proof file read"
        CITIZEN_OTP_SENT = "citizen_otp_sent", "one-time code sent to a citizen"
        CITIZEN_LOOKUP = "citizen_lookup", "citizen looked up their record"
        CERTIFICATE_ISSUED = "certificate_issued", "certificate issued"
        CERTIFICATE_REVOKED = "certificate_revoked", "certificate revoked"
        API_TOKEN_CREATED = "api_token_created", "API token created"
        API_TOKEN_REVOKED = "api_token_revoked", "API token revoked"
        FHIR_BUNDLE_RECEIVED = "fhir_bundle_received", "FHIR bundle received"
        FHIR_BUNDLE_REFUSED = "fhir_bundle_refused", "FHIR bundle refused before it was read"
        LOGIN_SUCCEEDED = "login_succeeded", "staff login succeeded"
        LOGIN_FAILED = "login_failed", "staff login failed"
        LOGIN_THROTTLED = "login_throttled", "staff login refused: too many failures"
        LOGOUT = "logout", "staff logout"
        SECOND_FACTOR_ADDED = "second_factor_added", "second factor (TOTP) set up"
        SECOND_FACTOR_REMOVED = "second_factor_removed", "second factor (TOTP) removed"
        IDENTITY_CHANGE_REQUESTED = (
            "identity_change_requested",
            "change of an access field awaits a second step",
        )
        IDENTITY_CHANGE_CONFIRMED = "identity_change_confirmed", "change of an access field confirmed"
        IDENTITY_CHANGE_CANCELLED = "identity_change_cancelled", "change of an access field cancelled"
        DUPLICATE_PAIR_DECIDED = "duplicate_pair_decided", "suspected duplicate pair decided"
        PERSONS_MERGED = "persons_merged", "two records of one person merged"
        PERSONS_UNMERGED = "persons_unmerged", "a merge of two records undone"
        CAMPAIGN_CREATED = "campaign_created", "progress campaign created"
        CAMPAIGN_CLOSED = "campaign_closed", "progress campaign closed"

    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    object_type = models.CharField(max_length=32, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["action", "at"], name="audit_action_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"


class RateCounter(models.Model):
    """How many times a key (an address, a phone, a person) did something in one fixed time window.

    Shared by every web worker through the database, so a limit holds across processes and restarts.
    """

    key = models.CharField(max_length=160)
    window_start = models.DateTimeField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="rate_counter_key_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="rate_counter_window_idx")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%Y-%m-%d %H:%M}: {self.count}"
