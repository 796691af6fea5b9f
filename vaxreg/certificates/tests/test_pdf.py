"""The printable certificate: a PDF whose page shows the name with its diacritics and a readable QR."""

import datetime as dt
import io
import zlib

import zxingcpp
from django.test import Client
from django.urls import reverse
from PIL import Image, PdfParser

from vaxreg.certificates.issuing import certificate_issue
from vaxreg.certificates.keys import KeyFiles
from vaxreg.certificates.pdf import DPI, PAGE, CertificateSheet, SheetDose, certificate_page, certificate_pdf
from vaxreg.certificates.qr import qr_png
from vaxreg.certificates.selectors import certificate_sheet
from vaxreg.certificates.tests.test_issuing import citizen_client, dcc_key_files, dcc_keys, qualified
from vaxreg.core.testing import World, world

__all__ = ["dcc_key_files", "dcc_keys", "world"]

SHEET = CertificateSheet(
    full_name="Nguyễn Thị Đào",
    birth_date="15/01/1990",
    gender="Nữ",
    id_masked="•••••••••345",
    doses=(
        SheetDose("1", dt.date(2021, 8, 1), "AstraZeneca", "LOT-1", "Bệnh viện Bạch Mai"),
        SheetDose("2", dt.date(2021, 9, 30), "AstraZeneca", "LOT-2", "Bệnh viện Bạch Mai"),
    ),
    uvci="URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF",
    hcert="HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IUKRG*I.I7BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95SWMPHQUHQN%A0SOE+QQAB-HQ/HQ7IR.SQEEOK9SAI4- 7Y15KBPD34  QWSP0WRGTQFNPLIR.KQNA7N95U/3FJCTG90OARH9P1J4HGZJKBEG%123ZC$0BCI757TLXKIBTV5TN%2LXK-$CH4TSXKZ4S/$K%0KPQ1HEP9.PZE9Q$95:UENEUW6646936HRTO$9KZ56DE/.QC$Q3J62:6LZ6O59++9-G9+E93ZM$96TV6NRNJ75:EHHMBS1ZS8FCOBTTHMMH:MXGB/8AUT2LCJ:3QG8E*DXGB.98ZFSVVG4LV*$FY4B*0J-G9+E93ZM$96TV6KJ73T59YLQM14+OP$I/XK$M8AO9MEEQK9CHSDUUFMU-PFTNRW/UMWQAEIS5Q+DJJ9K79VSWKUNGZ*7BKQK$J4M7O6/M8G10*QE88M1WSL.OXT$8C7Y8HK6I4NZKSZ7ZSH81F:H8OC4%QU$RG1Q9EVW%GZ/R0FGR9P0*4NHK:3LJ6N8AIX6BL9I0R:70D4GO53TW8NZJ6:UX0H1*IN3J5IU1EL FDAO+WM$5K4$+5QHL2G6L:55$VDDSA8RWWA4/MPTJ%1JAT5GJL$ZL1$UNG6K2WS49CRNWN5:F6$F3%7IA:EA-VJT3M3FD6S-QBO5V/5.DP.:P/B6EDDRTUKXFR1KY8B4:KTUR*IHTEFB5",
    issued_on=dt.date(2026, 11, 26),
    valid_until=dt.date(2027, 11, 26),
)


def _info(pdf: bytes, key: str) -> str:
    """A text of the PDF's document information, decoded as a reader would."""
    return PdfParser.decode_text(bytes(getattr(PdfParser.PdfParser(buf=pdf).info, key)))


def pdf_page_image(pdf: bytes) -> Image.Image:
    """The page image the PDF carries (its one Flate-compressed RGB image)."""
    start = pdf.index(b"stream\n", pdf.index(b"/Subtype /Image")) + len(b"stream\n")
    pixels = zlib.decompressobj().decompress(pdf[start:])
    return Image.frombytes("RGB", PAGE, pixels)


def test_the_pdf_is_one_a4_page_named_after_the_holder() -> None:
    pdf = certificate_pdf(SHEET)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    parsed = PdfParser.PdfParser(buf=pdf)
    assert len(parsed.pages) == 1
    assert _info(pdf, "Title") == "Chứng nhận tiêm chủng COVID-19 — Nguyễn Thị Đào"
    assert _info(pdf, "Subject") == SHEET.uvci
    width, height = (float(v) for v in parsed.read_indirect(parsed.pages[0]).MediaBox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    assert len(pdf) < 600_000


def test_the_printed_qr_reads_back_as_the_signed_text() -> None:
    page = pdf_page_image(certificate_pdf(SHEET))
    assert page.size == (1654, 2339) and DPI == 200
    assert [found.text for found in zxingcpp.read_barcodes(page)] == [SHEET.hcert]


def test_the_name_is_drawn_with_its_diacritics() -> None:
    """The glyphs of "Nguyễn Thị Đào" differ from the name without marks: the font has them."""
    with_marks = certificate_page(SHEET)
    without = certificate_page(CertificateSheet(**{**SHEET.__dict__, "full_name": "Nguyen Thi Dao"}))
    name_band = (500, 480, 1500, 600)
    assert with_marks.crop(name_band).tobytes() != without.crop(name_band).tobytes()
    # Nothing was drawn as a missing-glyph box: the band has ink, and the same ink as a re-render.
    assert with_marks.crop(name_band).getextrema() != ((255, 255), (255, 255), (255, 255))


def test_a_revoked_certificate_prints_as_revoked(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    certificate_issue(person_id=dao.pk)  # supersedes the first
    certificate.refresh_from_db()
    sheet = certificate_sheet(certificate=certificate)
    assert sheet.revoked and sheet.full_name == "Nguyễn Thị Đào" and sheet.birth_date == "15/01/1990"
    assert [d.number for d in sheet.doses] == ["1", "2"]


def test_the_downloaded_pdf_shows_the_issued_certificate(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    response = citizen_client(dao).get(reverse("certificates:pdf", args=[certificate.uvci]))
    assert _info(response.content, "Title").endswith("Nguyễn Thị Đào")
    page = pdf_page_image(response.content)
    assert [found.text for found in zxingcpp.read_barcodes(page)] == [certificate.hcert]
    assert Client().get(reverse("certificates:pdf", args=[certificate.uvci])).status_code == 404


def test_the_qr_png_uses_error_correction_q() -> None:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(SHEET.hcert))))
    assert [(f.text, f.ec_level) for f in found] == [(SHEET.hcert, "Q")]
