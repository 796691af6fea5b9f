import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from vaxreg.imports.models import ImportBatch
from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.places.models import Commune, Facility, LegacyCommune, LegacyDistrict, LegacyProvince, Province
from vaxreg.testing.world import catalogue_parameters_load, world  # noqa: F401  (world: the page and API tests)
from vaxreg.vaccinations.catalogue import alias_key
from vaxreg.vaccinations.models import Vaccine, VaccineAlias

HEADERS = [
    "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD/CMND", "Số điện thoại", "Địa chỉ", "Mã xã",
    "Mã cơ sở tiêm", "Mã bản ghi", "Ngày tiêm", "Mũi số", "Tên vắc xin", "Số lô",
]  # fmt: skip


@pytest.fixture
def places(db: Any) -> dict[str, Any]:
    hue = Province.objects.create(code="46", name="Thành phố Huế", short_name="Huế", name_key="thanh pho hue")
    hanoi = Province.objects.create(
        code="01", name="Thành phố Hà Nội", short_name="Hà Nội", name_key="thanh pho ha noi"
    )
    thuan_hoa = Commune.objects.create(
        code="19753",
        name="Phường Thuận Hóa",
        short_name="Thuận Hóa",
        kind="Phường",
        province=hue,
        name_key="phuong thuan hoa",
    )
    ba_dinh = Commune.objects.create(
        code="00004",
        name="Phường Ba Đình",
        short_name="Ba Đình",
        kind="Phường",
        province=hanoi,
        name_key="phuong ba dinh",
    )
    old_province = LegacyProvince.objects.create(
        code="46", name="Thừa Thiên Huế", cccd_code="046", new_province=hue
    )
    district = LegacyDistrict.objects.create(code="474", name="Thành phố Huế", province=old_province)
    LegacyCommune.objects.create(
        code="19774", name="Phường Phú Hội", district=district, province=old_province, new_commune=thuan_hoa
    )
    facilities = {
        "TYT19753": Facility.objects.create(
            code="TYT19753", name="Trạm Y tế Thuận Hóa", commune=thuan_hoa, province=hue
        ),
        "BV4601": Facility.objects.create(
            code="BV4601", name="Bệnh viện Trung ương Huế", commune=thuan_hoa, province=hue
        ),
        "TYT00004": Facility.objects.create(
            code="TYT00004", name="Trạm Y tế Ba Đình", commune=ba_dinh, province=hanoi
        ),
    }
    az = Vaccine.objects.create(code="AZ", name="Vaxzevria", manufacturer="AstraZeneca", primary_doses=2)
    pfizer = Vaccine.objects.create(
        code="COMIRNATY", name="Comirnaty", manufacturer="Pfizer-BioNTech", primary_doses=2
    )
    for alias in ("AZ", "AstraZeneca", "Astra"):
        VaccineAlias.objects.create(alias_key=alias_key(alias), vaccine=az)
    for alias in ("Pfizer", "Comirnaty"):
        VaccineAlias.objects.create(alias_key=alias_key(alias), vaccine=pfizer)
    catalogue_parameters_load()  # the touched persons are re-checked after each import
    return {"hue": hue, "hanoi": hanoi, "facilities": facilities, "thuan_hoa": thuan_hoa}


def row(**values: Any) -> list[Any]:
    """A template row; keyword names are the English header aliases."""
    defaults: dict[str, Any] = {
        "full_name": "Nguyễn Thị Hoa",
        "date_of_birth": "15/03/1987",
        "gender": "Nữ",
        "id_number": "046187000123",
        "phone": "0912345678",
        "address": "12 Lê Lợi",
        "commune_code": "19753",
        "facility_code": "TYT19753",
        "source_record_id": "R1",
        "vaccination_date": "01/08/2021",
        "dose_number": "1",
        "vaccine": "AZ",
        "lot_number": "A1001",
    }
    defaults.update(values)
    order = ["full_name", "date_of_birth", "gender", "id_number", "phone", "address", "commune_code", "facility_code",
             "source_record_id", "vaccination_date", "dose_number", "vaccine", "lot_number"]  # fmt: skip
    return [defaults[k] for k in order]


def write_csv(
    path: Path, rows: list[list[Any]], *, encoding: str = "utf-8-sig", delimiter: str = ",", headers=None
) -> Path:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers or HEADERS)
    for r in rows:
        writer.writerow(
            ["" if v is None else (v.strftime("%d/%m/%Y") if isinstance(v, dt.date) else v) for v in r]
        )
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def run_import(path: Path, **kwargs: Any) -> ImportBatch:
    """Register the file and import it at once, as the command line does."""
    batch = import_batch_create(file_name=path.name, path=path, **kwargs)
    return import_batch_run(batch_id=batch.pk)
