"""The printable certificate: a PDF of real text that keeps every Vietnamese mark, and a QR that scans."""

import datetime as dt
import io
import logging
import re
import unicodedata
from dataclasses import dataclass, replace

import pypdf
import pytest
from django.test import Client
from django.urls import reverse
from fpdf import FPDF
from PIL import Image

from vaxreg.certificates.issuing import certificate_issue
from vaxreg.certificates.keys import KeyFiles
from vaxreg.certificates.pdf import FONTS, CertificateSheet, SheetDose, certificate_pdf
from vaxreg.certificates.qr import qr_png
from vaxreg.certificates.selectors import certificate_sheet
from vaxreg.certificates.tests.qr_codes import read_qr_codes
from vaxreg.certificates.tests.test_issuing import citizen_client, dcc_key_files, dcc_keys, qualified
from vaxreg.testing.world import World, world

__all__ = ["dcc_key_files", "dcc_keys", "world"]

MM = 72 / 25.4  # points in a millimetre
A4 = (595.28, 841.89)  # points

SHEET = CertificateSheet(
    full_name="Nguyễn Thị Hường",
    birth_date="15/01/1990",
    gender="Nữ",
    id_masked="•••••••••345",
    doses=(
        SheetDose("1", dt.date(2021, 8, 1), "AstraZeneca", "LOT-1", "Bệnh viện Đa khoa tỉnh Quảng Trị"),
        SheetDose("2", dt.date(2021, 9, 30), "AstraZeneca", "LOT-2", "Trạm Y tế phường Đặng Dung"),
        SheetDose(
            "3", dt.date(2022, 2, 14), "Pfizer-BioNTech", "FK5127", "Trung tâm Y tế thành phố Thừa Thiên Huế"
        ),
    ),
    uvci="URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF",
    hcert="HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IUKRG*I.I7BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95SWMPHQUHQN%A0SOE+QQAB-HQ/HQ7IR.SQEEOK9SAI4- 7Y15KBPD34  QWSP0WRGTQFNPLIR.KQNA7N95U/3FJCTG90OARH9P1J4HGZJKBEG%123ZC$0BCI757TLXKIBTV5TN%2LXK-$CH4TSXKZ4S/$K%0KPQ1HEP9.PZE9Q$95:UENEUW6646936HRTO$9KZ56DE/.QC$Q3J62:6LZ6O59++9-G9+E93ZM$96TV6NRNJ75:EHHMBS1ZS8FCOBTTHMMH:MXGB/8AUT2LCJ:3QG8E*DXGB.98ZFSVVG4LV*$FY4B*0J-G9+E93ZM$96TV6KJ73T59YLQM14+OP$I/XK$M8AO9MEEQK9CHSDUUFMU-PFTNRW/UMWQAEIS5Q+DJJ9K79VSWKUNGZ*7BKQK$J4M7O6/M8G10*QE88M1WSL.OXT$8C7Y8HK6I4NZKSZ7ZSH81F:H8OC4%QU$RG1Q9EVW%GZ/R0FGR9P0*4NHK:3LJ6N8AIX6BL9I0R:70D4GO53TW8NZJ6:UX0H1*IN3J5IU1EL FDAO+WM$5K4$+5QHL2G6L:55$VDDSA8RWWA4/MPTJ%1JAT5GJL$ZL1$UNG6K2WS49CRNWN5:F6$F3%7IA:EA-VJT3M3FD6S-QBO5V/5.DP.:P/B6EDDRTUKXFR1KY8B4:KTUR*IHTEFB5",
    issued_on=dt.date(2026, 11, 26),
    valid_until=dt.date(2027, 11, 26),
)
REVOKED = "ĐÃ THU HỒI — REVOKED"


@dataclass(frozen=True)
class Run:
    """A piece of text as the PDF places it: left end of its baseline, in points from the bottom left."""

    text: str
    x: float
    y: float
    size: float
    font: str


@dataclass(frozen=True)
class Picture:
    x: float
    y: float
    width: float
    height: float


def _words(text: str) -> str:
    return " ".join(text.split())


def _text(pdf: bytes) -> str:
    """All the text a reader can select and search, its line breaks and spacing evened out."""
    return _words("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def _page_layout(page: pypdf.PageObject) -> tuple[list[Run], list[Picture]]:
    """The page's text runs and where its pictures are drawn."""
    runs: list[Run] = []
    pictures: list[Picture] = []

    def text(value: str, cm: list[float], tm: list[float], font: dict, size: float) -> None:
        if value.strip():
            runs.append(Run(value.strip(), tm[4], tm[5], size, str(font["/BaseFont"])))

    def operand(op: bytes, args: list, cm: list[float], tm: list[float]) -> None:
        if op == b"Do":  # a picture fills the unit square mapped by the current matrix
            pictures.append(Picture(cm[4], cm[5], cm[0], cm[3]))

    page.extract_text(visitor_text=text, visitor_operand_before=operand)
    return runs, pictures


def _layout(pdf: bytes) -> list[tuple[list[Run], list[Picture]]]:
    return [_page_layout(page) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def pdf_qr_image(pdf: bytes) -> Image.Image:
    """The one picture the PDF carries, as stored in it: the certificate's QR code."""
    [picture] = [image.image for page in pypdf.PdfReader(io.BytesIO(pdf)).pages for image in page.images]
    assert picture is not None
    return picture


def _drawn_width(run: Run) -> float:
    """How wide ``run`` is on the page, in points, measured with the same DejaVu Sans face."""
    measure = FPDF(unit="pt")
    bold = run.font.endswith("Bold")
    measure.add_font(
        "DejaVuSans", "B" if bold else "", FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    )
    measure.set_font("DejaVuSans", "B" if bold else "", run.size)
    return measure.get_string_width(run.text)


def test_the_pdf_is_one_small_a4_page_named_after_the_holder() -> None:
    pdf = certificate_pdf(SHEET)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert (float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)) == pytest.approx(
        A4, abs=0.5
    )
    assert reader.metadata.title == "Chứng nhận tiêm chủng COVID-19 — Nguyễn Thị Hường"
    assert reader.metadata.subject == SHEET.uvci
    assert SHEET.uvci in str(reader.metadata["/Keywords"])
    assert len(pdf) < 80_000


def test_the_text_is_real_text_with_every_vietnamese_mark(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        pdf = certificate_pdf(SHEET)
    assert not [record.getMessage() for record in caplog.records if "missing" in record.getMessage()]
    text = _text(pdf)
    for shown in [
        "CHỨNG NHẬN TIÊM CHỦNG COVID-19",
        "COVID-19 VACCINATION CERTIFICATE",
        "Họ và tên / Name Nguyễn Thị Hường",
        "Ngày sinh / Date of birth 15/01/1990",
        "Giới tính / Sex Nữ",
        "Số giấy tờ / ID number •••••••••345",
        "1 01/08/2021 AstraZeneca LOT-1 Bệnh viện Đa khoa tỉnh Quảng Trị",
        "2 30/09/2021 AstraZeneca LOT-2 Trạm Y tế phường Đặng Dung",
        "3 14/02/2022 Pfizer-BioNTech FK5127 Trung tâm Y tế thành phố Thừa Thiên Huế",
        SHEET.uvci,
        "Cấp ngày / Issued: 26/11/2026",
        "Hiệu lực đến / Valid until: 26/11/2027",
        "Bộ Y tế Việt Nam · Ministry of Health of Viet Nam",
    ]:
        assert shown in text
    assert REVOKED not in text
    # The glyphs come from the embedded DejaVu Sans subset, not from whatever font the reader has.
    fonts = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    descendants = [font.get_object()["/DescendantFonts"][0].get_object() for font in fonts.values()]
    assert sorted(re.sub(r"^/[A-Z]{6}\+", "", str(f["/BaseFont"])) for f in descendants) == [
        "DejaVuSansBold",
        "DejaVuSansBook",
    ]
    assert all("/FontFile2" in f["/FontDescriptor"] for f in descendants)


def test_a_name_typed_with_combining_marks_prints_as_whole_letters() -> None:
    decomposed = unicodedata.normalize("NFD", "Đặng Thị Hường")
    assert decomposed != "Đặng Thị Hường"
    pdf = certificate_pdf(replace(SHEET, full_name=decomposed))
    assert "Họ và tên / Name Đặng Thị Hường" in _text(pdf)
    assert pypdf.PdfReader(io.BytesIO(pdf)).metadata.title.endswith("Đặng Thị Hường")


def test_the_printed_qr_reads_back_as_the_signed_text_and_is_large_enough_to_scan() -> None:
    pdf = certificate_pdf(SHEET)
    found = read_qr_codes(pdf_qr_image(pdf))
    assert [(f.text, f.ec_level) for f in found] == [(SHEET.hcert, "Q")]
    [(_, [picture])] = _layout(pdf)
    assert picture.width == pytest.approx(picture.height)
    assert picture.width >= 60 * MM
    assert picture.x >= 0 and picture.x + picture.width <= A4[0] and picture.y >= 0
    stored = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images[0].indirect_reference.get_object()
    assert stored["/Filter"] == "/FlateDecode"  # lossless, unlike JPEG's DCTDecode


def _name_runs(pdf: bytes, name: str) -> list[Run]:
    [(runs, _)] = _layout(pdf)
    return [run for run in runs if run.text in name and run.font.endswith("Bold")]


def test_a_long_name_shrinks_to_stay_on_one_line() -> None:
    name = "Công Tôn Nữ Hoàng Phương Thảo Ngọc Diễm"
    normal = _name_runs(certificate_pdf(SHEET), SHEET.full_name)
    [run] = _name_runs(certificate_pdf(replace(SHEET, full_name=name)), name)
    assert run.text == name
    assert 11 <= run.size < normal[0].size
    assert run.x + _drawn_width(run) <= A4[0] - 15 * MM


def test_a_very_long_name_is_printed_whole_inside_the_page() -> None:
    name = "Tôn Nữ Hoàng Thị Thừa Thiên Huế Quảng Trị Đặng Nguyễn Thị Hường Phương Thảo Ngọc Diễm My Lê"
    pdf = certificate_pdf(replace(SHEET, full_name=name))
    assert f"Họ và tên / Name {name} Ngày sinh" in _text(pdf)
    name_runs = _name_runs(pdf, name)
    assert len(name_runs) > 1 and _words(" ".join(run.text for run in name_runs)) == name
    for run in name_runs:
        assert run.size >= 8
        assert run.x >= 15 * MM and run.x + _drawn_width(run) <= A4[0] - 15 * MM
    [(_, pictures)] = _layout(pdf)
    assert len(pictures) == 1 and read_qr_codes(pdf_qr_image(pdf))[0].text == SHEET.hcert


def test_many_long_dose_lines_never_cover_the_qr() -> None:
    dose = SheetDose(
        "1",
        dt.date(2021, 8, 1),
        "Comirnaty (Pfizer-BioNTech) COVID-19 mRNA vaccine",
        "FK5127",
        "Trạm Y tế xã Phong Điền, huyện Phong Điền, tỉnh Thừa Thiên Huế",
    )
    pdf = certificate_pdf(replace(SHEET, doses=tuple(replace(dose, number=str(n)) for n in range(1, 9))))
    text = _text(pdf)
    assert text.count("Trạm Y tế xã Phong Điền, huyện Phong Điền, tỉnh Thừa Thiên Huế") == 8
    [picture] = [picture for _, pictures in _layout(pdf) for picture in pictures]
    assert picture.width >= 60 * MM
    for runs, pictures in _layout(pdf):
        for picture in pictures:
            covered = [r.text for r in runs if picture.y <= r.y <= picture.y + picture.height]
            assert covered == []
        assert all(run.y >= 15 * MM for run in runs)
    assert read_qr_codes(pdf_qr_image(pdf))[0].text == SHEET.hcert


def test_a_revoked_certificate_prints_as_revoked(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    current = certificate_issue(person_id=dao.pk)  # supersedes the first
    certificate.refresh_from_db()
    sheet = certificate_sheet(certificate=certificate)
    assert sheet.revoked and [d.number for d in sheet.doses] == ["1", "2"]
    revoked_text = _text(certificate_pdf(sheet))
    assert REVOKED in revoked_text and "Nguyễn Thị Đào" in revoked_text and "15/01/1990" in revoked_text
    assert REVOKED not in _text(certificate_pdf(certificate_sheet(certificate=current)))


def test_the_downloaded_pdf_shows_the_issued_certificate(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    response = citizen_client(dao).get(reverse("certificates:pdf", args=[certificate.uvci]))
    assert response["Content-Type"] == "application/pdf"
    text = _text(response.content)
    assert "Họ và tên / Name Nguyễn Thị Đào" in text and certificate.uvci in text
    assert [f.text for f in read_qr_codes(pdf_qr_image(response.content))] == [certificate.hcert]
    assert Client().get(reverse("certificates:pdf", args=[certificate.uvci])).status_code == 404


def test_the_qr_png_uses_error_correction_q() -> None:
    found = read_qr_codes(Image.open(io.BytesIO(qr_png(SHEET.hcert))))
    assert [(f.text, f.ec_level) for f in found] == [(SHEET.hcert, "Q")]
