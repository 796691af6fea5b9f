"""Files that would cost too much to read are refused while they are read, with memory flat: a workbook
whose parts unpack (or claim to unpack) past the caps, a cell past Excel's own limit, a row or a
shared-strings table past its cap, a CSV line past the row cap. Each refusal names where the file is wrong,
in Vietnamese and English; the batch says so, and its file stays stored."""

import datetime as dt
import gzip
import io
import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from vaxreg.imports.models import ImportBatch, RejectedRow
from vaxreg.imports.readers import DoseFile, FileRefused
from vaxreg.imports.tests.conftest import HEADERS, row, run_import, write_csv
from vaxreg.imports.workbook import WorkbookLimits, xlsx_rows
from vaxreg.vaccinations.models import Dose

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHEET = "xl/worksheets/sheet1.xml"
LIMITS = WorkbookLimits(
    unpacked_bytes=1 << 30, part_bytes=1 << 30, row_chars=1_000_000, shared_strings_bytes=1 << 30
)


def _inline(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def _row(number: int, values: Sequence[object]) -> str:
    cells = "".join(_inline(f"{chr(65 + i)}{number}", str(v)) for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def _workbook(
    path: Path,
    rows: Iterable[str | bytes],
    *,
    shared: list[str] | None = None,
    styles: str | None = None,
    workbook_pr: str = "",
    prefix: str = "",
) -> Path:
    """An .xlsx written part by part, as some software writes it: ``rows`` is the sheet's XML inside
    ``sheetData`` (pieces of it streamed into the ZIP, so a huge cell costs the test no memory)."""
    p = prefix
    related = [("rId1", "worksheet", "worksheets/sheet1.xml")]
    if shared is not None:
        related.append(("rId2", "sharedStrings", "sharedStrings.xml"))
    if styles is not None:
        related.append(("rId3", "styles", "styles.xml"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
            f'Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}">{workbook_pr}'
            '<sheets><sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{RELS}">'
            + "".join(
                f'<Relationship Id="{i}" Type="{DOC_RELS}/{t}" Target="{target}"/>'
                for i, t, target in related
            )
            + "</Relationships>",
        )
        if shared is not None:
            entries = "".join(f"<si><t>{escape(text)}</t></si>" for text in shared)
            archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{entries}</sst>')
        if styles is not None:
            archive.writestr("xl/styles.xml", f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
        with archive.open(SHEET, "w", force_zip64=True) as sheet:
            xmlns = f'xmlns:{p[:-1]}="{MAIN}"' if p else f'xmlns="{MAIN}"'
            sheet.write(f"<{p}worksheet {xmlns}><{p}sheetData>".encode())
            for piece in rows:
                sheet.write(piece if isinstance(piece, bytes) else piece.encode())
            sheet.write(f"</{p}sheetData></{p}worksheet>".encode())
    return path


def _long_inline_cell(reference: str, length: int) -> Iterable[bytes]:
    yield f'<c r="{reference}" t="inlineStr"><is><t>'.encode()
    block = b"A" * (1 << 20)
    while length > 0:
        yield block[: min(length, len(block))]
        length -= len(block)
    yield b"</t></is></c>"


def _member_offsets(content: bytes, name: str) -> tuple[int, int]:
    """Where the local header and the central directory entry of part ``name`` start."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        local = archive.getinfo(name).header_offset
    central = content.index(b"PK\x01\x02")
    while content[central + 46 : central + 46 + len(name)] != name.encode():
        central = content.index(b"PK\x01\x02", central + 4)
    return local, central


def _declare(path: Path, name: str, *, size: int | None = None, crc: int | None = None) -> None:
    """Make part ``name`` declare another unpacked size or checksum (local header and central directory)."""
    content = bytearray(path.read_bytes())
    local, central = _member_offsets(bytes(content), name)
    if crc is not None:
        struct.pack_into("<I", content, local + 14, crc)
        struct.pack_into("<I", content, central + 16, crc)
    if size is not None:
        for field_at in (local + 22, central + 24):
            if struct.unpack_from("<I", content, field_at)[0] != 0xFFFFFFFF:  # not kept in the ZIP64 field
                struct.pack_into("<I", content, field_at, size)
        # The ZIP64 extra field of the central entry (written for a streamed part) holds the real sizes.
        name_length, extra_length = struct.unpack_from("<HH", content, central + 28)
        extra = central + 46 + name_length
        end = extra + extra_length
        while extra < end:
            tag, length = struct.unpack_from("<HH", content, extra)
            if tag == 1:
                struct.pack_into("<Q", content, extra + 4, size)
            extra += 4 + length
    path.write_bytes(bytes(content))


def _refusal(batch: ImportBatch) -> str:
    assert batch.status == ImportBatch.Status.REFUSED, (batch.status, batch.message)
    assert Path(batch.stored_path).exists()  # the operator can still see the file
    assert not Dose.objects.exists() and not RejectedRow.objects.exists()
    return batch.message


# -- a cell past Excel's limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("at_row", [3, 40])  # read with the header; read by the reading process
def test_an_inline_cell_past_excels_limit_is_refused_naming_its_sheet_row_and_column(
    places, tmp_path, at_row
):
    rows = [_row(1, HEADERS)] + [_row(n, row(source_record_id=f"R{n}")) for n in range(2, at_row)]
    rows.append(
        f'<row r="{at_row}">{_inline(f"A{at_row}", "Lê Văn Tám")}{_inline(f"F{at_row}", "x" * 40_000)}</row>'
    )
    message = _refusal(run_import(_workbook(tmp_path / "dai.xlsx", rows)))
    assert f"Trang tính “Danh sách”, ô F{at_row} (dòng {at_row}, cột F)" in message
    assert f"Sheet “Danh sách”, cell F{at_row} (row {at_row}, column F)" in message
    assert "32.767 ký tự" in message and "32,767 characters" in message


def test_a_shared_string_past_excels_limit_is_refused_naming_the_cell_that_shows_it(places, tmp_path):
    """Excel keeps a workbook's text in its shared-strings table; the refusal still names the cell."""
    shared = [*HEADERS, "12 Lê Lợi", "x" * 40_000]
    rows = [
        '<row r="1">' + "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(13)) + "</row>"
    ]
    rows += [f'<row r="{n}"><c r="F{n}" t="s"><v>{13 if n != 27 else 14}</v></c></row>' for n in range(2, 30)]
    message = _refusal(run_import(_workbook(tmp_path / "chung.xlsx", rows, shared=shared)))
    assert "Trang tính “Danh sách”, ô F27 (dòng 27, cột F)" in message
    assert "Sheet “Danh sách”, cell F27 (row 27, column F)" in message


def test_the_issues_workbook_is_refused_without_reading_the_rest_of_its_huge_cell(places, tmp_path):
    """The shape of the issue's file: one inline cell of 600 MB in a small ZIP. Here the cell holds 8 MB and
    the sheet's checksum is wrong: a reader that took the whole cell would reach the end of the part and
    find the damage; this one stops a block past the limit and names the cell."""
    path = _workbook(
        tmp_path / "bom.xlsx", [_row(1, HEADERS), '<row r="2">', *_long_inline_cell("A2", 8 << 20), "</row>"]
    )
    assert path.stat().st_size < 64 * 1024
    with zipfile.ZipFile(path) as archive:
        crc = archive.getinfo(SHEET).CRC
    _declare(path, SHEET, crc=crc ^ 0xFFFF)
    with pytest.raises(FileRefused) as refused:
        list(xlsx_rows(path, LIMITS))
    assert refused.value.code == "CELL_TOO_LONG"
    assert (
        "ô A2 (dòng 2, cột A)" in refused.value.message_vi
        and "cell A2 (row 2, column A)" in refused.value.message_en
    )


def test_a_shared_string_far_past_the_limit_is_not_read_to_its_end(tmp_path):
    path = _workbook(
        tmp_path / "bom.xlsx",
        [_row(1, HEADERS), '<row r="2"><c r="B2" t="s"><v>1</v></c></row>'],
        shared=["a", "b" * (8 << 20)],
    )
    with zipfile.ZipFile(path) as archive:
        crc = archive.getinfo("xl/sharedStrings.xml").CRC
    _declare(path, "xl/sharedStrings.xml", crc=crc ^ 0xFFFF)
    with pytest.raises(FileRefused) as refused:
        list(xlsx_rows(path, LIMITS))
    assert refused.value.code == "CELL_TOO_LONG" and "cell B2 (row 2, column B)" in refused.value.message_en


# -- what the ZIP declares ----------------------------------------------------------------------------------


def test_a_part_declaring_a_huge_size_is_refused_before_anything_is_unpacked(places, tmp_path):
    path = _workbook(tmp_path / "khai.xlsx", [_row(1, HEADERS), _row(2, row())])
    _declare(path, SHEET, size=3 << 30)
    message = _refusal(run_import(path))
    assert "Phần xl/worksheets/sheet1.xml của bảng tính khai báo 3.072 MB khi giải nén" in message
    assert "The part xl/worksheets/sheet1.xml of the workbook declares 3,072 MB unpacked" in message


def test_a_part_holding_more_than_it_declares_is_refused(places, tmp_path):
    path = _workbook(
        tmp_path / "doi.xlsx",
        [_row(1, HEADERS)] + [_row(n, row(source_record_id=f"R{n}")) for n in range(2, 200)],
    )
    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo(SHEET).file_size
    _declare(path, SHEET, size=size // 10)
    message = _refusal(run_import(path))
    assert "phần xl/worksheets/sheet1.xml không khớp với kích thước và mã kiểm tra" in message
    assert (
        "its part xl/worksheets/sheet1.xml does not match the size and checksum the file declares" in message
    )


def test_the_parts_together_are_held_to_the_unpacked_cap(places, tmp_path, settings):
    settings.VAXREG_IMPORT_MAX_UNPACKED_BYTES = 50_000
    path = _workbook(
        tmp_path / "lon.xlsx",
        [_row(1, HEADERS)] + [_row(n, row(source_record_id=f"R{n}")) for n in range(2, 200)],
    )
    message = _refusal(run_import(path))
    assert "over the limit of 50,000 bytes" in message and "Split it into smaller files" in message


def test_a_shared_strings_table_past_its_cap_is_refused(places, tmp_path, settings):
    settings.VAXREG_IMPORT_MAX_SHARED_STRINGS_BYTES = 10_000
    path = _workbook(tmp_path / "chung.xlsx", [_row(1, HEADERS)], shared=[f"chuỗi {n}" for n in range(200)])
    message = _refusal(run_import(path))
    assert "Bảng chuỗi dùng chung của bảng tính (xl/sharedStrings.xml) cần hơn 10.000 byte" in message


# -- rows -------------------------------------------------------------------------------------------------


def test_a_row_past_the_row_cap_is_refused_naming_it(places, tmp_path, settings):
    settings.VAXREG_IMPORT_MAX_ROW_CHARS = 5_000
    rows = [_row(1, HEADERS), _row(2, row()), _row(3, row(address="y" * 3_000, lot_number="z" * 3_000))]
    message = _refusal(run_import(_workbook(tmp_path / "dong.xlsx", rows)))
    assert "Trang tính “Danh sách”, dòng 3: các ô của dòng dài hơn 5.000 ký tự cộng lại" in message
    assert "Sheet “Danh sách”, row 3: the row's cells hold more than 5,000 characters together" in message


@pytest.mark.parametrize(
    ("cells", "said"),
    [
        (
            '<row r="1048577"><c r="A1048577"><v>1</v></c></row>',
            "has a row 1,048,577, past the last row Excel allows",
        ),
        (
            '<row r="2"><c r="XFE2"><v>1</v></c></row>',
            "row 2: a cell in column XFE, past the last column Excel allows (XFD)",
        ),
        (
            '<row r="2"><c r="B2" t="s"><v>7</v></c></row>',
            "cell B2 (row 2, column B): the cell points to a shared string “7”",
        ),
    ],
)
def test_rows_and_cells_excel_cannot_hold_are_refused(tmp_path, cells, said):
    path = _workbook(tmp_path / "x.xlsx", [_row(1, HEADERS), cells], shared=["a"])
    with pytest.raises(FileRefused) as refused:
        list(xlsx_rows(path, LIMITS))
    assert said in refused.value.message_en


def test_an_entity_declaration_and_a_tag_of_megabytes_are_refused(tmp_path):
    laughs = _workbook(tmp_path / "doctype.xlsx", [_row(1, HEADERS)])
    with zipfile.ZipFile(laughs) as source, zipfile.ZipFile(tmp_path / "doctype2.xlsx", "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == SHEET:
                data = b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>' + data
            target.writestr(info.filename, data)
    with pytest.raises(FileRefused) as refused:
        list(xlsx_rows(tmp_path / "doctype2.xlsx", LIMITS))
    assert "DOCTYPE" in refused.value.message_en
    tag = _workbook(tmp_path / "tag.xlsx", [_row(1, HEADERS), '<row r="2" note="', "n" * (3 << 20), '"/>'])
    with pytest.raises(FileRefused) as refused:
        list(xlsx_rows(tag, LIMITS))
    assert "holds a tag longer than" in refused.value.message_en


# -- what the reader gives --------------------------------------------------------------------------------


def test_the_reader_gives_values_as_excel_shows_them(tmp_path):
    styles = (
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
        '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="14"/></cellXfs>'
    )
    sheet = [
        '<x:row r="2">'
        '<x:c r="A2" t="s"><x:v>0</x:v></x:c>'
        '<x:c r="B2" s="1"><x:v>44470</x:v></x:c>'
        '<x:c r="C2" s="2"><x:v>32217.5</x:v></x:c>'
        "<x:c><x:v>1090012345</x:v></x:c>"  # no reference: the next column
        '<x:c r="F2" t="inlineStr"><x:is><x:r><x:t>Lê </x:t></x:r><x:r><x:t>Văn</x:t></x:r>'
        "<x:rPh><x:t>レ</x:t></x:rPh></x:is></x:c>"
        '<x:c r="G2" t="b"><x:v>1</x:v></x:c><x:c r="H2" t="e"><x:v>#N/A</x:v></x:c>'
        '<x:c r="I2" t="str"><x:f>A1&amp;"x"</x:f><x:v>a&amp;b</x:v></x:c><x:c r="J2"/>'
        "</x:row>",
        '<x:row r="5"><x:c r="B5"><x:v>2.5</x:v></x:c></x:row>',
    ]
    path = _workbook(tmp_path / "v.xlsx", sheet, shared=["Nguyễn Thị Hoa"], styles=styles, prefix="x:")
    rows = list(xlsx_rows(path, LIMITS))
    assert [r.number for r in rows] == [2, 3, 4, 5]  # rows Excel left out, because empty, are there
    assert rows[0].values == [
        "Nguyễn Thị Hoa", dt.datetime(2021, 10, 1), dt.datetime(1988, 3, 15, 12), 1090012345, None,
        "Lê Văn", True, "#N/A", "a&b", None,
    ]  # fmt: skip
    assert rows[1].values == rows[2].values == [] and rows[3].values == [None, 2.5]
    date1904 = _workbook(
        tmp_path / "mac.xlsx",
        ['<row r="1"><c r="A1" s="1"><v>1</v></c></row>'],
        styles=styles,
        workbook_pr='<workbookPr date1904="1"/>',
    )
    assert [r.values for r in xlsx_rows(date1904, LIMITS)] == [[dt.datetime(1904, 1, 2)]]


def test_a_workbook_written_inline_imports_like_one_with_shared_strings(places, tmp_path):
    rows = [
        _row(1, HEADERS),
        _row(2, row()),
        _row(3, row(source_record_id="R2", dose_number="2", vaccination_date="02/09/2021")),
    ]
    batch = run_import(_workbook(tmp_path / "inline.xlsx", rows))
    assert (batch.status, batch.rows_stored, batch.persons_created) == (ImportBatch.Status.DONE, 2, 1), (
        batch.message
    )
    assert batch.file_format == "xlsx"


def test_a_zip_that_is_not_an_xlsx_workbook_says_what_to_do(tmp_path):
    with zipfile.ZipFile(tmp_path / "bang.ods", "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(FileRefused) as refused:
        DoseFile(tmp_path / "bang.ods")
    assert "save it as .xlsx" in refused.value.message_en


# -- .xls ------------------------------------------------------------------------------------------------

FILES = Path(__file__).parent / "files"


def _unpacked(name: str, folder: Path) -> Path:
    """A crafted .xls kept gzipped (written by xlwt, then edited where xlwt keeps to Excel's limits)."""
    path = folder / name.removesuffix(".gz")
    path.write_bytes(gzip.decompress((FILES / name).read_bytes()))
    return path


def test_an_xls_whose_cells_lie_far_apart_is_refused_without_taking_the_memory(places, tmp_path):
    """Two cells, one at the last row and in column 65,536: calamine would allocate their whole rectangle
    (137 GB) and abort the process; it is tried first in a process whose memory is capped."""
    message = _refusal(run_import(_unpacked("far-apart.xls.gz", tmp_path)))
    assert "Bảng tính .xls cần hơn 1.536 MB bộ nhớ để đọc" in message
    assert "save it as .xlsx" in message


def test_an_xls_cell_past_excels_limit_is_refused_naming_it(places, tmp_path):
    message = _refusal(run_import(_unpacked("long-cell.xls.gz", tmp_path)))
    assert "Trang tính “Danh sach”, ô D2 (dòng 2, cột D)" in message
    assert (
        "Sheet “Danh sach”, cell D2 (row 2, column D): the cell holds more than 32,767 characters" in message
    )


# -- CSV --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_csv_line_past_the_row_cap_is_refused_before_it_is_read_whole(places, tmp_path, settings, encoding):
    settings.VAXREG_IMPORT_MAX_ROW_CHARS = 1_000
    rows = [row(), row(source_record_id="R2", address="Đ" * 5_000), row(source_record_id="R3")]
    message = _refusal(run_import(write_csv(tmp_path / "dai.csv", rows, encoding=encoding)))
    assert "Dòng 3 của tệp dài hơn 1.000 ký tự" in message
    assert "Line 3 of the file is longer than 1,000 characters" in message


def test_lines_ended_by_cr_alone_are_lines(places, tmp_path, settings):
    settings.VAXREG_IMPORT_MAX_ROW_CHARS = 1_000
    path = write_csv(
        tmp_path / "mac.csv", [row(source_record_id=f"R{n}", dose_number="1") for n in range(100)]
    )
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r"))
    batch = run_import(path)
    assert (batch.status, batch.rows_read) == (ImportBatch.Status.DONE, 100), batch.message
