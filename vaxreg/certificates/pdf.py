"""The printable certificate: one A4 page drawn at 200 dpi and saved as PDF.

No PDF library is among the project's dependencies, so the page is drawn with Pillow and DejaVu Sans
(free licence, in ``data/fonts``), which has every Vietnamese letter with its marks. The page is stored
Flate-compressed, losslessly (Pillow's own PDF writer would store it as JPEG or hex text): text and QR
modules stay sharp when printed. The name and UVCI are also in the PDF's document information.
"""

import datetime as dt
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from vaxreg.certificates.qr import qr_image

DPI = 200
PAGE = (1654, 2339)  # A4 at 200 dpi
MARGIN = 120
FONTS = Path(__file__).resolve().parent / "data" / "fonts"
INK = (20, 24, 31)
MUTED = (90, 99, 112)
ACCENT = (0, 102, 68)
RED = (190, 30, 30)


@dataclass(frozen=True)
class SheetDose:
    number: str
    date: dt.date
    vaccine: str
    lot: str
    place: str


@dataclass(frozen=True)
class CertificateSheet:
    """What the printed page shows."""

    full_name: str
    birth_date: str
    gender: str
    id_masked: str
    doses: tuple[SheetDose, ...]
    uvci: str
    hcert: str
    issued_on: dt.date
    valid_until: dt.date
    revoked: bool = False


def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, *, width: int, size: int, bold: bool = False
) -> ImageFont.FreeTypeFont:
    """The largest font up to ``size`` in which ``text`` fits ``width`` (long names shrink, never clip)."""
    font = _font(size, bold=bold)
    while size > 18 and draw.textlength(text, font=font) > width:
        size -= 2
        font = _font(size, bold=bold)
    return font


def _centered(
    draw: ImageDraw.ImageDraw,
    y: int,
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int] = INK,
) -> int:
    width = draw.textlength(text, font=font)
    draw.text(((PAGE[0] - width) / 2, y), text, font=font, fill=fill)
    return y + int(font.size * 1.45)


def _header(draw: ImageDraw.ImageDraw) -> int:
    y = MARGIN
    y = _centered(draw, y, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", _font(34, bold=True))
    y = _centered(draw, y, "Độc lập - Tự do - Hạnh phúc", _font(32))
    draw.line([(PAGE[0] / 2 - 220, y + 8), (PAGE[0] / 2 + 220, y + 8)], fill=INK, width=2)
    y += 60
    y = _centered(draw, y, "CHỨNG NHẬN TIÊM CHỦNG COVID-19", _font(58, bold=True), ACCENT)
    return _centered(draw, y, "COVID-19 VACCINATION CERTIFICATE", _font(36), MUTED) + 30


def _facts(draw: ImageDraw.ImageDraw, y: int, sheet: CertificateSheet) -> int:
    label_font, value_width = _font(30), PAGE[0] - 2 * MARGIN - 520
    rows = [
        ("Họ và tên / Name", sheet.full_name, True),
        ("Ngày sinh / Date of birth", sheet.birth_date or "—", False),
        ("Giới tính / Sex", sheet.gender or "—", False),
        ("Số giấy tờ / ID number", sheet.id_masked or "—", False),
    ]
    for label, value, strong in rows:
        draw.text((MARGIN, y + 6), label, font=label_font, fill=MUTED)
        font = _fit(draw, value, width=value_width, size=42 if strong else 36, bold=strong)
        draw.text((MARGIN + 520, y), value, font=font, fill=INK)
        y += 68
    return y + 20


def _doses(draw: ImageDraw.ImageDraw, y: int, doses: tuple[SheetDose, ...]) -> int:
    columns = [
        ("Mũi / Dose", 0),
        ("Ngày / Date", 190),
        ("Vắc xin / Vaccine", 430),
        ("Số lô / Lot", 960),
        ("Nơi tiêm / Place", 1150),
    ]
    head, body = _font(26, bold=True), _font(27)
    right = PAGE[0] - MARGIN
    draw.rectangle([MARGIN - 10, y - 8, right + 10, y + 44], fill=(232, 240, 236))
    for title, x in columns:
        draw.text((MARGIN + x, y), title, font=head, fill=INK)
    y += 58
    for dose in doses:
        cells = [dose.number, f"{dose.date:%d/%m/%Y}", dose.vaccine, dose.lot, dose.place]
        for index, ((_, x), text) in enumerate(zip(columns, cells, strict=True)):
            end = columns[index + 1][1] - 20 if index + 1 < len(columns) else right - MARGIN
            draw.text((MARGIN + x, y), _clip(draw, text, body, end - x), font=body, fill=INK)
        y += 50
        draw.line([(MARGIN - 10, y - 8), (right + 10, y - 8)], fill=(210, 214, 220), width=1)
    return y + 30


def _clip(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def certificate_page(sheet: CertificateSheet) -> Image.Image:
    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    y = _header(draw)
    if sheet.revoked:
        y = _centered(draw, y, "ĐÃ THU HỒI — REVOKED", _font(56, bold=True), RED) + 10
    y = _facts(draw, y, sheet)
    y = _doses(draw, y, sheet.doses)
    qr_size = min(760, PAGE[1] - y - 330)
    qr = qr_image(sheet.hcert, size=qr_size)
    page.paste(qr, ((PAGE[0] - qr.width) // 2, y))
    y += qr.height + 10
    y = _centered(draw, y, sheet.uvci, _fit(draw, sheet.uvci, width=PAGE[0] - 2 * MARGIN, size=30), INK)
    y = _centered(
        draw,
        y,
        f"Cấp ngày / Issued: {sheet.issued_on:%d/%m/%Y}   ·   Hiệu lực đến / Valid until: {sheet.valid_until:%d/%m/%Y}",
        _font(28),
    )
    _centered(
        draw,
        y + 10,
        "Quét mã QR để kiểm tra chứng nhận / Scan the QR code to verify this certificate",
        _font(26),
        MUTED,
    )
    _centered(draw, PAGE[1] - MARGIN, "Bộ Y tế Việt Nam · Ministry of Health of Viet Nam", _font(26), MUTED)
    return page


def _text(value: str) -> bytes:
    """A PDF text string that carries any letter: UTF-16BE with its byte-order mark, in hex."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _pdf(page: Image.Image, info: dict[str, str]) -> bytes:
    """A one-page PDF holding ``page`` as a Flate-compressed (lossless) RGB image over the whole A4."""
    width_pt, height_pt = (f"{px * 72 / DPI:.2f}".encode() for px in page.size)
    pixels = zlib.compress(page.convert("RGB").tobytes(), 6)
    content = b"q " + width_pt + b" 0 0 " + height_pt + b" 0 0 cm /Page Do Q"
    info_entries = b" ".join(b"/" + key.encode("ascii") + b" " + _text(value) for key, value in info.items())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + width_pt + b" " + height_pt + b"] "
        b"/Resources << /XObject << /Page 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n"
        % (page.width, page.height, len(pixels))
        + pixels
        + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< " + info_entries + b" >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, len(objects), xref)
    )
    return out.getvalue()


def certificate_pdf(sheet: CertificateSheet) -> bytes:
    """The certificate as a one-page A4 PDF."""
    return _pdf(
        certificate_page(sheet),
        {
            "Title": f"Chứng nhận tiêm chủng COVID-19 — {sheet.full_name}",
            "Subject": sheet.uvci,
            "Author": "Bộ Y tế Việt Nam",
            "Keywords": f"{sheet.full_name}; {sheet.uvci}",
            "Creator": "VaxReg",
        },
    )
