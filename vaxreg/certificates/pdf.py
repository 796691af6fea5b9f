"""The printable certificate: an A4 PDF of real text, bilingual Vietnamese/English, with the QR code.

The text is set in DejaVu Sans (free licence, in ``data/fonts``), which has every Vietnamese letter with
its marks; only the glyphs used are embedded, so the file stays small and the text can be selected,
searched and read aloud. Long names shrink and then wrap, long vaccine and place names wrap in their
column: nothing is cut off. The QR code (error correction Q) is a lossless picture, Flate-compressed as
in PNG, printed at least 60 mm wide. The name and UVCI are also in the PDF's document information.
"""

import datetime as dt
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image

from vaxreg.certificates.qr import qr_png

FONTS = Path(__file__).resolve().parent / "data" / "fonts"
FAMILY = "DejaVuSans"
PT = 25.4 / 72  # millimetres in a point

PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4, millimetres
MARGIN = 15.0
LABEL_WIDTH = 66.0
VALUE_WIDTH = PAGE_WIDTH - 2 * MARGIN - LABEL_WIDTH
FACT_ROW = 8.6
READABLE_PT, SMALLEST_PT = 11.0, 8.0
# The QR code with its quiet zone: at 60 mm a module of the longest certificates is still about half a
# millimetre, which phone cameras read from paper; more room is used when the page has it.
QR_LARGEST, QR_SMALLEST = 95.0, 60.0
# Viewers that smooth enlarged pictures then soften at most a quarter of a module at its edges.
QR_PIXELS_PER_MODULE = 4
BELOW_QR = 42.0  # UVCI, dates, hint and footer
FOOTER_SPACE = 8.0

INK = (20, 24, 31)
MUTED = (90, 99, 112)
ACCENT = (0, 102, 68)
RED = (190, 30, 30)
RULE = (210, 214, 220)
HEAD_FILL = (232, 240, 236)

REVOKED = "ĐÃ THU HỒI — REVOKED"
MINISTRY = "Bộ Y tế Việt Nam · Ministry of Health of Viet Nam"
DOSE_COLUMNS = (
    ("Mũi / Dose", 24.0),
    ("Ngày / Date", 26.0),
    ("Vắc xin / Vaccine", 52.0),
    ("Số lô / Lot", 22.0),
    ("Nơi tiêm / Place", 56.0),
)


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


def _nfc(text: str) -> str:
    # Names typed on some keyboards arrive decomposed (letter + combining marks); without a shaping engine
    # the marks would be placed one after another, while the composed letters are drawn from the font.
    return unicodedata.normalize("NFC", text)


def _style(pdf: FPDF, size: float, *, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.set_text_color(*color)


def _fitting_size(pdf: FPDF, text: str, *, width: float, size: float, bold: bool = False) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``width`` on one line; text too long for
    that at a readable size gets the size that fills about two lines, and wraps rather than being cut."""
    _style(pdf, size, bold=bold)
    drawn = pdf.get_string_width(text)
    if drawn <= width:
        return size
    # Text width grows in proportion to the size; the small margins absorb rounding and word breaks.
    one_line = size * width / drawn * 0.995
    if one_line >= READABLE_PT:
        return one_line
    return max(SMALLEST_PT, min(size, 2 * one_line * 0.9))


def _centered(
    pdf: FPDF, y: float, text: str, size: float, *, bold: bool = False, color: tuple[int, int, int] = INK
) -> float:
    _style(pdf, size, bold=bold, color=color)
    height = size * PT * 1.45
    pdf.set_xy(MARGIN, y)
    pdf.cell(pdf.epw, height, _nfc(text), align=Align.C)
    return y + height


def _header(pdf: FPDF) -> float:
    y = _centered(pdf, MARGIN, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12.2, bold=True)
    y = _centered(pdf, y, "Độc lập - Tự do - Hạnh phúc", 11.5)
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.25)
    pdf.line(PAGE_WIDTH / 2 - 28, y + 1, PAGE_WIDTH / 2 + 28, y + 1)
    y += 7.6
    y = _centered(pdf, y, "CHỨNG NHẬN TIÊM CHỦNG COVID-19", 20.9, bold=True, color=ACCENT)
    return _centered(pdf, y, "COVID-19 VACCINATION CERTIFICATE", 13.0, color=MUTED) + 3.8


def _fact(pdf: FPDF, y: float, label: str, value: str, *, size: float, bold: bool) -> float:
    value = _nfc(value) or "—"
    room = VALUE_WIDTH - 2 * pdf.c_margin  # a cell keeps its text off its edges
    size = _fitting_size(pdf, value, width=room, size=size, bold=bold)
    one_line = pdf.get_string_width(value) <= room
    height = FACT_ROW if one_line else size * PT * 1.4
    _style(pdf, 10.8, color=MUTED)
    pdf.set_xy(MARGIN, y)
    pdf.cell(LABEL_WIDTH, height, label)
    _style(pdf, size, bold=bold)
    pdf.set_xy(MARGIN + LABEL_WIDTH, y)
    pdf.multi_cell(VALUE_WIDTH, height, value, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return max(y + FACT_ROW, pdf.get_y())


def _facts(pdf: FPDF, y: float, sheet: CertificateSheet) -> float:
    y = _fact(pdf, y, "Họ và tên / Name", sheet.full_name, size=15.1, bold=True)
    y = _fact(pdf, y, "Ngày sinh / Date of birth", sheet.birth_date, size=13.0, bold=False)
    y = _fact(pdf, y, "Giới tính / Sex", sheet.gender, size=13.0, bold=False)
    y = _fact(pdf, y, "Số giấy tờ / ID number", sheet.id_masked, size=13.0, bold=False)
    return y + 2.5


def _doses(pdf: FPDF, y: float, doses: tuple[SheetDose, ...]) -> float:
    """The dose table; a long vaccine or place name wraps within its column rather than being cut."""
    _style(pdf, 9.7)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.set_y(y)
    with pdf.table(
        width=pdf.epw,
        col_widths=tuple(width for _, width in DOSE_COLUMNS),
        headings_style=FontFace(emphasis="BOLD", size_pt=9.4, color=INK, fill_color=HEAD_FILL),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        text_align="LEFT",
        line_height=5.0,
        padding=(1.0, 1.5),
    ) as table:
        table.row([title for title, _ in DOSE_COLUMNS])
        for dose in doses:
            table.row(
                [
                    _nfc(dose.number),
                    f"{dose.date:%d/%m/%Y}",
                    _nfc(dose.vaccine),
                    _nfc(dose.lot),
                    _nfc(dose.place),
                ]
            )
    return pdf.get_y() + 4.0


def _qr(pdf: FPDF, y: float, hcert: str) -> float:
    if PAGE_HEIGHT - y - BELOW_QR < QR_SMALLEST:
        # Only a record with many long dose lines gets here: a second sheet beats a QR too small to scan.
        pdf.add_page()
        y = MARGIN
    side = min(QR_LARGEST, max(QR_SMALLEST, PAGE_HEIGHT - y - BELOW_QR))
    code = Image.open(io.BytesIO(qr_png(hcert, scale=1))).convert("L")
    image = code.resize((code.width * QR_PIXELS_PER_MODULE,) * 2, Image.Resampling.NEAREST)
    pdf.image(
        image,
        x=(PAGE_WIDTH - side) / 2,
        y=y,
        w=side,
        h=side,
        alt_text="Mã QR của chứng nhận / Certificate QR code",
    )
    return y + side + 1.0


def _footer(pdf: FPDF, y: float, sheet: CertificateSheet) -> None:
    uvci_size = _fitting_size(pdf, sheet.uvci, width=pdf.epw, size=10.8)
    y = _centered(pdf, y, sheet.uvci, uvci_size)
    y = _centered(
        pdf,
        y,
        f"Cấp ngày / Issued: {sheet.issued_on:%d/%m/%Y}   ·   "
        f"Hiệu lực đến / Valid until: {sheet.valid_until:%d/%m/%Y}",
        10.0,
    )
    _centered(
        pdf,
        y + 1.3,
        "Quét mã QR để kiểm tra chứng nhận / Scan the QR code to verify this certificate",
        9.4,
        color=MUTED,
    )


class _CertificateDocument(FPDF):
    def footer(self) -> None:
        """The issuer on the foot of every page (fpdf2 calls this as each page is finished)."""
        _centered(self, PAGE_HEIGHT - MARGIN - 4, MINISTRY, 9.4, color=MUTED)


def _document(sheet: CertificateSheet) -> FPDF:
    pdf = _CertificateDocument(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN + FOOTER_SPACE)
    pdf.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
    name = _nfc(sheet.full_name)
    pdf.set_lang("vi")
    pdf.set_title(f"Chứng nhận tiêm chủng COVID-19 — {name}")
    pdf.set_subject(sheet.uvci)
    pdf.set_author("Bộ Y tế Việt Nam")
    pdf.set_keywords(f"{name}; {sheet.uvci}")
    pdf.set_creator("VaxReg")
    pdf.add_page()
    return pdf


def certificate_pdf(sheet: CertificateSheet) -> bytes:
    """The certificate as an A4 PDF: one page, unless the doses need more room than a page leaves."""
    pdf = _document(sheet)
    y = _header(pdf)
    if sheet.revoked:
        y = _centered(pdf, y, REVOKED, 20.2, bold=True, color=RED) + 1.3
    y = _facts(pdf, y, sheet)
    y = _doses(pdf, y, sheet.doses)
    y = _qr(pdf, y, sheet.hcert)
    _footer(pdf, y, sheet)
    return bytes(pdf.output())
