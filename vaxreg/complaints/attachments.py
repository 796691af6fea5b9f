"""Photos and PDFs of paper proof sent with a complaint: checked by content, stored outside the web root.

The type is decided by the bytes alone, never by the file name or the browser's header: a JPEG or PNG must
open and verify with Pillow within a pixel budget (a small file that unpacks to a gigantic image is
refused), a PDF must start with ``%PDF-`` and end with ``%%EOF``. Anything else, such as a Windows program
renamed ``.jpg``, is refused with a message naming the file.

Every file is checked before anything is stored. The bytes are then written inside the complaint's
transaction, just before their rows, under ``MEDIA_ROOT/complaints/<sha[:2]>/<sha256>``: if the
transaction rolls back, what remains is an unreferenced file named by its own hash, which nothing links to
and which the same upload would reuse, so nothing half-stored is ever visible.
"""

import datetime as dt
import hashlib
import io
import os
import tempfile
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop
from PIL import Image, UnidentifiedImageError

from vaxreg.complaints.common import ComplaintInvalid, complaint_history_write
from vaxreg.complaints.models import Attachment, Complaint
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages

MAX_BYTES = 5 * 1024 * 1024
MAX_FILES = 3
# A 48-megapixel phone photo passes; a few-kB PNG that claims 20000 × 20000 pixels does not.
MAX_PIXELS = 60_000_000
ADD_WINDOW = dt.timedelta(hours=1)  # after that the handlers may already be working on it
FIELD = "attachments"
_JPEG, _PNG, _PDF = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"%PDF-"
_PDF_TAIL = 1024  # readers look for the end marker in the last kilobyte


@dataclass(frozen=True)
class ProofFile:
    """A checked file, not yet stored."""

    name: str
    content: bytes
    content_type: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def _clean_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    return base.strip()[:200] or f"({both_languages(gettext_noop('unnamed'))})"


def _refused(name: str, vi: str, en: str) -> ComplaintInvalid:
    return ComplaintInvalid(f"Tệp «{name}»: {vi}", f"File “{name}”: {en}", field=FIELD)


def _image_ok(data: bytes, expected: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if image.format != expected or width * height > MAX_PIXELS:
                    return False
                image.verify()
            # verify() does not decode JPEG data: decoding once catches a truncated or corrupt body.
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return False
        except Image.DecompressionBombWarning:
            return False
    return True


def proof_check(*, name: str, data: bytes) -> ProofFile:
    """The file with its type as its content says; ComplaintInvalid (field ``attachments``) otherwise."""
    name = _clean_name(name)
    if len(data) > MAX_BYTES:
        raise _refused(name, "lớn hơn 5 MB.", "larger than 5 MB.")
    if not data:
        raise _refused(name, "tệp rỗng.", "the file is empty.")
    if data.startswith(_JPEG):
        kind, ok = Attachment.Kind.JPEG, _image_ok(data, "JPEG")
    elif data.startswith(_PNG):
        kind, ok = Attachment.Kind.PNG, _image_ok(data, "PNG")
    elif data.startswith(_PDF):
        kind, ok = Attachment.Kind.PDF, b"%%EOF" in data[-_PDF_TAIL:]
    else:
        raise _refused(
            name,
            "không phải ảnh JPEG/PNG hay tệp PDF (kiểm tra theo nội dung, không theo tên tệp).",
            "not a JPEG/PNG photo or a PDF (checked by its content, not its name).",
        )
    if not ok:
        raise _refused(
            name,
            "tệp bị hỏng, không đọc được hoặc ảnh quá lớn (số điểm ảnh).",
            "the file is damaged, unreadable, or the image has too many pixels.",
        )
    return ProofFile(name=name, content=data, content_type=kind, sha256=hashlib.sha256(data).hexdigest())


def proof_read(upload: IO[bytes], *, name: str, size: int | None = None) -> ProofFile:
    """Read an upload (at most one byte past the limit, whatever its claimed size) and check it."""
    if size is not None and size > MAX_BYTES:
        raise _refused(_clean_name(name), "lớn hơn 5 MB.", "larger than 5 MB.")
    return proof_check(name=name, data=upload.read(MAX_BYTES + 1))


def proofs_count_check(count: int, *, already: int = 0) -> None:
    if count + already > MAX_FILES:
        raise ComplaintInvalid(
            f"Tối đa {MAX_FILES} tệp cho một phản ánh.",
            f"At most {MAX_FILES} files per complaint.",
            field=FIELD,
        )


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT).resolve()


def _bytes_write(proof: ProofFile) -> str:
    relative = f"complaints/{proof.sha256[:2]}/{proof.sha256}"
    target = _media_root() / relative
    if target.exists():
        return relative  # the same bytes were stored before: content-addressed
    target.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file renamed into place: a reader never sees half a file, even after a crash.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(proof.content)
        os.chmod(temporary, 0o640)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return relative


def proofs_store(
    *, complaint: Complaint, proofs: Sequence[ProofFile], first_position: int = 1
) -> list[Attachment]:
    """Write the bytes and one row per file; the caller holds the complaint's transaction."""
    now = clock.now()
    rows = [
        Attachment(
            complaint=complaint,
            position=first_position + i,
            original_name=proof.name,
            content_type=proof.content_type,
            size=proof.size,
            sha256=proof.sha256,
            storage_path=_bytes_write(proof),
            created_at=now,
        )
        for i, proof in enumerate(proofs)
    ]
    return Attachment.objects.bulk_create(rows)


@transaction.atomic
def complaint_proofs_add(*, complaint_id: int, proofs: Sequence[ProofFile]) -> list[Attachment]:
    """Add the citizen's files to a complaint sent within the last hour, up to three in all."""
    complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
    if clock.now() - complaint.received_at > ADD_WINDOW:
        raise ComplaintInvalid(
            "Chỉ có thể gửi thêm tệp trong vòng 1 giờ sau khi gửi phản ánh.",
            "Files can be added only within 1 hour of sending the complaint.",
            field=FIELD,
        )
    if not proofs:
        raise ComplaintInvalid("Chưa chọn tệp nào.", "No file was chosen.", field=FIELD)
    positions = list(complaint.attachments.values_list("position", flat=True))
    proofs_count_check(len(proofs), already=len(positions))
    rows = proofs_store(complaint=complaint, proofs=proofs, first_position=max(positions, default=0) + 1)
    complaint_history_write(
        complaint,
        {f"attachment_{row.position}": (None, f"{row.content_type} {row.sha256}") for row in rows},
        actor_id=None,
        reason=both_languages(gettext_noop("proof added by the citizen through the API")),
    )
    return rows


def attachment_path(attachment: Attachment) -> Path:
    """Where the bytes of an attachment are; refuses a stored path that would leave MEDIA_ROOT."""
    root = _media_root()
    path = (root / attachment.storage_path).resolve()
    if root not in path.parents:
        raise ValueError(f"attachment {attachment.pk} points outside MEDIA_ROOT")
    return path
