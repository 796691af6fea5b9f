"""Proof files: the type is read from the bytes, bad files are refused by name, good ones kept privately."""

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from PIL import Image

from vaxreg.complaints.attachments import MAX_BYTES, attachment_path, proof_check
from vaxreg.complaints.common import ComplaintRefused
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Attachment


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def exe_bytes() -> bytes:
    return (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
        + b"\x00" * 200
        + b"This program cannot be run in DOS mode"
    )


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG header that claims a gigantic image: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("phieu-tiem.jpg", image_bytes("JPEG"), "image/jpeg"),
        ("phieu-tiem.png", image_bytes("PNG"), "image/png"),
        ("giay-xac-nhan.pdf", pdf_bytes(), "application/pdf"),
        ("anh-chup.pdf", image_bytes("PNG"), "image/png"),  # the name lies, the content decides
        ("noname", image_bytes("JPEG"), "image/jpeg"),
    ],
)
def test_the_type_is_what_the_content_is(name: str, data: bytes, expected: str) -> None:
    assert proof_check(name=name, data=data).content_type == expected


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("evil.jpg", exe_bytes(), "not a JPEG/PNG photo or a PDF"),
        ("bomb.png", png_claiming(50_000, 50_000), "too many pixels"),
        ("cut.jpg", image_bytes("JPEG", (400, 300))[:300], "damaged"),
        ("half.pdf", b"%PDF-1.7\n1 0 obj <<>> endobj\n", "damaged"),
        ("notes.txt", "Tôi đã tiêm 2 mũi".encode(), "not a JPEG/PNG photo or a PDF"),
        ("page.html", b"<html><script>alert(1)</script></html>", "not a JPEG/PNG photo or a PDF"),
        ("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES, "larger than 5 MB"),
        ("empty.jpg", b"", "empty"),
    ],
)
def test_a_bad_file_is_refused_with_its_name(name: str, data: bytes, says: str) -> None:
    with pytest.raises(ComplaintRefused) as refused:
        proof_check(name=name, data=data)
    assert refused.value.field == "attachments"
    assert name in refused.value.message_en and name in refused.value.message_vi
    assert says in refused.value.message_en


def test_a_directory_in_the_file_name_is_dropped() -> None:
    assert proof_check(name="C:\\Users\\me\\..\\phieu.png", data=image_bytes()).name == "phieu.png"
    assert proof_check(name="../../etc/passwd.png", data=image_bytes()).name == "passwd.png"


def test_files_are_kept_by_hash_outside_the_web_root_with_the_detected_type(
    world: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"
    png, pdf = image_bytes("PNG"), pdf_bytes()
    complaint = complaint_submit(
        intake=Intake(category=3, full_name="Nguyễn Thị Đào", phone="0912345601", province_code="01"),
        proofs=[proof_check(name="anh.pdf", data=png), proof_check(name="giay.pdf", data=pdf)],
    )
    rows = list(Attachment.objects.filter(complaint=complaint).order_by("position"))
    assert [(r.position, r.content_type, r.original_name) for r in rows] == [
        (1, "image/png", "anh.pdf"),
        (2, "application/pdf", "giay.pdf"),
    ]
    path = attachment_path(rows[0])
    assert path.read_bytes() == png
    assert path == (tmp_path / "private" / "complaints" / rows[0].sha256[:2] / rows[0].sha256).resolve()
    static_root = Path(django_settings.STATIC_ROOT).resolve()
    assert static_root not in path.parents


def test_a_stored_path_cannot_lead_outside_media_root(world: Any, settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    forged = Attachment(storage_path="../../etc/passwd")
    with pytest.raises(ValueError, match="outside MEDIA_ROOT"):
        attachment_path(forged)
