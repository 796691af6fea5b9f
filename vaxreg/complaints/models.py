from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy


class Category(models.IntegerChoices):
    """The Ministry's five kinds of complaint (SPEC §7)."""

    NO_RECORD_PROOF_UNDATED = 1, "Đã tiêm, giấy xác nhận thiếu ngày, chưa có người và mũi tiêm trên hệ thống"
    NO_RECORD = 2, "Đã tiêm nhưng chưa có người và mũi tiêm trên hệ thống"
    DOSES_MISSING = 3, "Đã có trên hệ thống nhưng thiếu mũi tiêm"
    INFO_WRONG_NOT_IN_APP = 4, "Thông tin cá nhân sai, mũi tiêm không hiện trên ứng dụng"
    INFO_WRONG = 5, "Có người và mũi tiêm nhưng thông tin cá nhân và/hoặc mũi tiêm sai"


class ComplaintState(models.TextChoices):
    OPEN = "open", pgettext_lazy("complaint state", "open")
    DEFERRED = "deferred", pgettext_lazy("complaint state", "deferred")
    APPROVED = "approved", pgettext_lazy("complaint state", "approved")
    REJECTED = "rejected", pgettext_lazy("complaint state", "rejected")
    JOINED = "joined", pgettext_lazy("complaint state", "joined to an earlier complaint")


OPEN_STATES = (ComplaintState.OPEN, ComplaintState.DEFERRED)


class RejectReason(models.TextChoices):
    PROOF_INCOMPLETE = "proof_incomplete", "Giấy xác nhận thiếu ngày, mũi hoặc vắc xin"
    NAME_CONTRADICTS = "name_contradicts", "Họ tên khác với giấy xác nhận"
    PERSONAL_PHOTO = "personal_photo", "Ảnh cá nhân thay vì giấy xác nhận"
    DATA_MISMATCH = "data_mismatch", "Mũi tiêm, ngày sinh, ngày tiêm hoặc vắc xin không khớp"
    UNREADABLE = "unreadable", "Thông tin chính bị cắt hoặc mờ"
    NOTHING_MATCHES = "nothing_matches", "Không khớp thông tin nào"
    NAME_INCOMPLETE = "name_incomplete", "Họ tên không đầy đủ hoặc không dấu"
    HAND_EDITED = "hand_edited", "Giấy xác nhận bị sửa tay"


class Complaint(models.Model):
    """A citizen's complaint about their record, handled where they were vaccinated within 48 hours."""

    tracking_code = models.CharField(max_length=32, unique=True)
    category = models.SmallIntegerField(choices=Category.choices)
    full_name = models.CharField(max_length=200)
    birth_date = models.CharField(max_length=10, blank=True, default="")  # as given: dd/mm/yyyy or yyyy
    gender = models.CharField(max_length=1, blank=True, default="")
    id_number = models.CharField(max_length=32, blank=True, default="")
    phone = models.CharField(max_length=32)
    province = models.ForeignKey(
        "places.Province", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    commune = models.ForeignKey(
        "places.Commune", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    facility = models.ForeignKey(
        "places.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_doses = models.JSONField(default=list, blank=True)  # [{date, vaccine, dose_number, lot}]
    description = models.TextField(blank=True, default="")
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who handles it: a facility, else the province's health department.
    handler_facility = models.ForeignKey(
        "places.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handler_province = models.ForeignKey(
        "places.Province", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The intake sent it away from the unit the citizen named, which cannot read the matched record, to the
    # unit that holds it: the named unit still reads what the citizen wrote, and nothing more.
    rerouted = models.BooleanField(default=False)
    joined_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="joined"
    )
    state = models.CharField(max_length=16, choices=ComplaintState.choices, default=ComplaintState.OPEN)
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()  # received + 48 h; a transfer does not move it
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)  # past due: in the province's inbox, late
    deferred_until = models.DateField(null=True, blank=True)
    reject_reason = models.CharField(max_length=32, blank=True, default="", choices=RejectReason.choices)
    outcome = models.TextField(blank=True, default="")
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.IntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="complaint_category_valid", condition=Q(category__gte=1, category__lte=5)
            ),
            models.CheckConstraint(
                name="complaint_state_valid", condition=Q(state__in=ComplaintState.values)
            ),
            models.CheckConstraint(
                name="complaint_has_a_handler_unit",
                condition=Q(handler_facility__isnull=False) | Q(handler_province__isnull=False),
            ),  # fmt: skip
        ]
        indexes = [
            models.Index(fields=["handler_facility", "state", "due_at"], name="complaint_facility_inbox_idx"),
            models.Index(fields=["handler_province", "state", "due_at"], name="complaint_province_inbox_idx"),
            models.Index(fields=["state", "due_at"], name="complaint_due_idx"),
            models.Index(fields=["id_number", "category", "state"], name="complaint_join_idx"),
        ]

    def __str__(self) -> str:
        return f"complaint {self.tracking_code}"


class Notice(models.Model):
    """A message to the citizen (outcome) or to the handlers (reminder, escalation): the outbox that the
    SMS / e-mail backend sends from. One row per event, so a repeated tick cannot send twice."""

    class Kind(models.TextChoices):
        RECEIVED = "received", "received"
        REMINDER = "reminder", "12 hours left"
        ESCALATED = "escalated", "past due, escalated"
        OUTCOME = "outcome", "outcome"

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    recipient = models.CharField(max_length=200)
    text = models.TextField()
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "kind"],
                condition=Q(kind__in=["received", "reminder", "escalated"]),
                name="notice_once_per_deadline_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient}"


class Attachment(models.Model):
    """A photo or PDF of paper proof sent with a complaint (at most three).

    The bytes live under ``MEDIA_ROOT`` (outside the web root) by content hash; ``content_type`` is what
    the content was found to be, never what the name or the browser claimed. Served only to the
    complaint's handlers.
    """

    class Kind(models.TextChoices):
        JPEG = "image/jpeg", "JPEG"
        PNG = "image/png", "PNG"
        PDF = "application/pdf", "PDF"

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="attachments")
    position = models.SmallIntegerField()  # 1..3, in the order the citizen sent them
    original_name = models.CharField(max_length=200, blank=True, default="")
    content_type = models.CharField(max_length=32, choices=Kind.choices)
    size = models.IntegerField()
    sha256 = models.CharField(max_length=64)
    storage_path = models.CharField(max_length=200)  # relative to MEDIA_ROOT
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["complaint", "position"], name="attachment_position_unique"),
            models.CheckConstraint(
                name="attachment_position_1_to_3", condition=Q(position__gte=1, position__lte=3)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id}/{self.position} {self.content_type}"
