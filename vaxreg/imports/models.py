from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# What pages show for a batch's status, in the reader's language; registered in ImportsConfig.ready.
BATCH_STATUS_LABELS = {
    "queued": _("Queued"),
    "running": _("Importing"),
    "done": _("Done"),
    "refused": _("Refused"),
    "failed": _("Failed"),
}


class ImportBatch(models.Model):
    """One file sent by a facility (or a district or province, with the rows of many facilities)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Đang chờ"
        RUNNING = "running", "Đang nhập"
        DONE = "done", "Hoàn tất"
        REFUSED = "refused", "Bị từ chối"
        FAILED = "failed", "Lỗi"

    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, blank=True, default="")
    stored_path = models.CharField(max_length=500, blank=True, default="")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The only facility whose rows this batch may hold (a facility user's own), or none.
    facility = models.ForeignKey(
        "places.Facility", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The province the uploader may write to (province users), or none for national scope.
    province = models.ForeignKey(
        "places.Province", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True, default="")
    rows_read = models.IntegerField(default=0)
    rows_stored = models.IntegerField(default=0)
    rows_rejected = models.IntegerField(default=0)
    rows_blank = models.IntegerField(default=0)  # empty lines: not dose rows, counted apart
    persons_created = models.IntegerField(default=0)
    persons_updated = models.IntegerField(default=0)
    doses_created = models.IntegerField(default=0)
    doses_updated = models.IntegerField(default=0)
    doses_unchanged = models.IntegerField(default=0)
    ids_repaired = models.IntegerField(default=0)
    progress_rows = models.IntegerField(default=0)  # rows handled so far, for the progress bar
    file_format = models.CharField(max_length=8, blank=True, default="")
    encoding = models.CharField(max_length=16, blank=True, default="")
    delimiter = models.CharField(max_length=4, blank=True, default="")
    header_row = models.IntegerField(default=1)
    columns_found = models.JSONField(default=dict, blank=True)  # field → header as written in the file
    columns_ignored = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                name="batch_rows_add_up",
                condition=~Q(status="done") | Q(rows_read=F("rows_stored") + F("rows_rejected")),
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"


class ImportProgress(models.Model):
    """Rows handled so far by a running import on PostgreSQL, written by a connection of its own while the
    import's transaction is open (see ``services._Progress``).

    A table apart from the batch, with no foreign key: the import's transaction holds locks on the batch
    row, and on Citus on every table that refers to a reference table it wrote, which a second connection
    writing the batch itself would wait for. Its row is removed when the import ends.
    """

    batch_id = models.BigIntegerField(primary_key=True)
    rows = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"batch {self.batch_id}: {self.rows} rows"


class RejectedRow(models.Model):
    """A row that could not be stored, kept with its raw values and reasons so it can be fixed and resent."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rejected_rows")
    row_number = models.IntegerField()  # 1-based line/row in the file, header included
    raw = models.JSONField()  # header → raw text, exactly as read
    reasons = models.JSONField()  # [{"code", "column", "message_vi", "message_en"}]

    class Meta:
        ordering = ["batch", "row_number"]
        constraints = [models.UniqueConstraint(fields=["batch", "row_number"], name="rejected_row_unique")]

    def __str__(self) -> str:
        return f"batch {self.batch_id} row {self.row_number}"
