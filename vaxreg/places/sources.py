"""Administrative units as the data files give them, before they reach the database.

The 2025 units, the old three-level units and the old→new mapping come from the MIT-licensed
``vietnamadminunits`` package; its data files are read directly because its Python API parses
addresses one at a time and is far too slow for a bulk load. The CCCD province prefixes and names of
the 63 old provinces come from the specification's list, kept once in ``vaxreg/core/data``.
"""

import importlib.util
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from vaxreg.core.cccd import CCCD_PROVINCES
from vaxreg.places.models import CommuneKind

_KIND_BY_TYPE = {kind.label: kind.value for kind in CommuneKind}


@dataclass(frozen=True)
class NewCommuneSource:
    code: str
    name: str
    short_name: str
    kind: str
    province_code: str
    province_name: str
    province_short_name: str


@dataclass(frozen=True)
class LegacyCommuneSource:
    """One row of the old table; ``code`` is empty for the island districts that had no communes."""

    code: str
    name: str
    district_code: str
    district_name: str
    province_code: str
    new_commune_code: str | None


@dataclass(frozen=True)
class AdminUnitsSource:
    new_communes: list[NewCommuneSource]
    legacy_communes: list[LegacyCommuneSource]


def _package_file(name: str) -> Path:
    # find_spec locates the package without importing it: its __init__ pulls in geopy and shapely (~1.5 s).
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The vietnamadminunits package is not installed (uv sync).")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _read_rows(query: str) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(f"file:{_package_file('dataset.db')}?mode=ro", uri=True)) as con:
        con.row_factory = sqlite3.Row
        return con.execute(query).fetchall()


def _legacy_to_new_keys() -> dict[str, tuple[str, str]]:
    """Legacy key ``province_district_ward`` → (new province key, new ward key).

    A legacy commune that was split between several new communes maps to the one the package marks as
    its default (``isDefaultNewWard``).
    """
    converter = json.loads(_package_file("converter_2025.json").read_text(encoding="utf-8"))
    mapping: dict[str, tuple[str, str]] = {}
    for province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, legacy_keys in wards.items():
            for legacy_key in legacy_keys:
                mapping[legacy_key] = (province_key, ward_key)
    for province_key, legacy_wards in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for legacy_key, parts in legacy_wards.items():
            default = next((p for p in parts if p["isDefaultNewWard"]), parts[0])
            mapping[legacy_key] = (province_key, default["newWardKey"])
    return mapping


def admin_units_read() -> AdminUnitsSource:
    new_rows = _read_rows(
        "SELECT provinceCode, province, provinceShort, provinceKey, "
        "wardCode, ward, wardShort, wardType, wardKey "
        "FROM admin_units ORDER BY wardCode"
    )
    new_code_by_key = {(r["provinceKey"], r["wardKey"]): r["wardCode"] for r in new_rows}
    new_communes = [
        NewCommuneSource(
            code=r["wardCode"],
            name=r["ward"],
            short_name=r["wardShort"],
            kind=_KIND_BY_TYPE.get(r["wardType"], r["wardType"]),
            province_code=r["provinceCode"],
            province_name=r["province"],
            province_short_name=r["provinceShort"],
        )
        for r in new_rows
    ]

    legacy_to_new = _legacy_to_new_keys()
    legacy_rows = _read_rows(
        "SELECT provinceCode, provinceKey, districtCode, district, districtKey, wardCode, ward, wardKey "
        "FROM admin_units_legacy ORDER BY districtCode, wardCode"
    )
    legacy_communes = []
    for r in legacy_rows:
        new_key = legacy_to_new.get(f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}")
        legacy_communes.append(
            LegacyCommuneSource(
                code=r["wardCode"] or "",
                name=r["ward"] or "",
                district_code=r["districtCode"],
                district_name=r["district"],
                province_code=r["provinceCode"],
                new_commune_code=new_code_by_key.get(new_key) if new_key else None,
            )
        )
    return AdminUnitsSource(new_communes=new_communes, legacy_communes=legacy_communes)


def cccd_provinces_read() -> dict[str, str]:
    """CCCD prefix ("001") → old province name."""
    return dict(CCCD_PROVINCES)
