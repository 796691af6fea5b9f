"""The payload of a vaccination certificate: EU DCC JSON schema 1.3.0 (SPEC §8).

``dgc_vaccination_payload`` builds it, ``dgc_schema_errors`` checks any DCC payload (vaccination, test or
recovery) against the official schema file in ``data/`` with a validator compiled once from it, and
``dgc_value_set_errors`` checks the codes of a vaccination entry against the EU value sets. The name
fields carry the name as written (``fn``, ``gn``) and its ICAO 9303 transliteration (``fnt``, ``gnt``).
"""

import datetime as dt
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cbor2

SCHEMA_VERSION = "1.3.0"
DISEASE_COVID_19 = "840539006"
UVCI_PREFIX = "URN:UVCI:01:"
DATA_DIR = Path(__file__).resolve().parent / "data"
SCHEMA_PATH = DATA_DIR / "DCC.combined-schema-1.3.0.json"
VALUE_SETS_PATH = DATA_DIR / "dcc-valuesets.json"
FIELD_MAX_LENGTH = 80

# ICAO 9303 part 3 §6 (recommended transliterations of Latin letters with marks that are not simply
# dropped); every other mark is removed after canonical decomposition.
_ICAO_SPECIAL = {
    "Đ": "D", "Ð": "D", "Æ": "AE", "Ä": "AE", "Å": "AA", "Ö": "OE", "Ø": "OE", "Œ": "OE", "Ü": "UE",
    "ß": "SS", "ẞ": "SS", "Þ": "TH", "Ĳ": "IJ", "Ł": "L", "Ħ": "H", "Ŋ": "N", "Ŧ": "T", "İ": "I",
}  # fmt: skip
_SEPARATORS = {" ", "-", "\u00a0", "\t", "\n", "<"}


def icao_transliterate(name: str) -> str:
    """The ICAO 9303 machine-readable form of a name.

    Uppercase; Đ/đ → D; other diacritics dropped (ICAO's two-letter forms for Ä, Ö, Ü, ß, Æ, Ø, Å);
    spaces and hyphens → ``<`` (runs collapse to one); anything else that is not A–Z is left out; at
    most 80 characters (the schema's limit).

    >>> icao_transliterate("Nguyễn Thị Đào")
    'NGUYEN<THI<DAO'
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFC", name).upper():
        if char in _SEPARATORS:
            if out and out[-1] != "<":
                out.append("<")
            continue
        mapped = _ICAO_SPECIAL.get(char)
        if mapped is None:
            mapped = "".join(c for c in unicodedata.normalize("NFD", char) if "A" <= c <= "Z")
        out.append(mapped)
    return "".join(out).strip("<")[:FIELD_MAX_LENGTH].rstrip("<")


@dataclass(frozen=True)
class DccDose:
    """One dose as a DCC vaccination entry needs it.

    Attributes:
        date: the vaccination date.
        mp: medicinal product code (e.g. "EU/1/20/1528" Comirnaty, "BBIBP-CorV").
        ma: marketing authorisation holder or manufacturer code (e.g. "ORG-100030215").
        vp: vaccine or prophylaxis code ("J07BX03").
        dose_number: the number of this dose (1, 2 primary; 3, 4 boosters).
        total_doses: the doses of the series this dose belongs to (``sd``).
    """

    date: dt.date
    mp: str
    ma: str
    vp: str
    dose_number: int
    total_doses: int

    @classmethod
    def of(cls, value: "DccDose | Mapping[str, Any]") -> "DccDose":
        """A dose from itself or from a mapping with the same keys (``date`` a date or ISO text)."""
        if isinstance(value, DccDose):
            return value
        date = value["date"]
        if isinstance(date, str):
            date = dt.date.fromisoformat(date)
        elif isinstance(date, dt.datetime):
            date = date.date()
        return cls(
            date=date,
            mp=str(value["mp"]),
            ma=str(value["ma"]),
            vp=str(value["vp"]),
            dose_number=int(value["dose_number"]),
            total_doses=int(value["total_doses"]),
        )


def uvci_new(country: str = "VN") -> str:
    """A new unique certificate identifier ``URN:UVCI:01:VN:<32 hex>`` (SPEC §8).

    The 128 random bits make it unguessable and unique without a registry. SPEC §8's format has no
    check character (the EU's optional ``#`` + Luhn mod N suffix is not used).
    """
    return f"{UVCI_PREFIX}{country}:{secrets.token_hex(16).upper()}"


def uvci_sha256_hex(uvci: str) -> str:
    """The revocation-list key of a certificate: SHA-256 (hex) of its UVCI exactly as in ``ci``."""
    return hashlib.sha256(uvci.encode("utf-8")).hexdigest()


def dgc_vaccination_payload(
    *,
    family_name: str,
    given_name: str,
    birth_date_iso: str,
    doses: Sequence[DccDose | Mapping[str, Any]],
    uvci: str,
    country: str = "VN",
    issuer: str = "Bộ Y tế Việt Nam",
) -> dict[str, Any]:
    """The DCC 1.3.0 payload of a vaccination certificate.

    Schema 1.3.0 allows exactly one vaccination entry (``v`` has one item): the certificate states the
    latest dose (highest dose number, then latest date) with its place in the series (``dn``/``sd``);
    the earlier doses are implied by it, as in every member state's certificates.

    Args:
        family_name, given_name: the name as written (``fn``, ``gn``); transliterated for ``fnt``/``gnt``.
        birth_date_iso: "YYYY-MM-DD", "YYYY-MM" or "YYYY" (elderly people often have only a year).
        doses: the person's valid doses (at least one).
        uvci: the certificate identifier (``uvci_new``).
        country: ISO 3166 country of vaccination.
        issuer: the issuing authority (``is``), at most 80 characters.

    Raises:
        ValueError: no dose.
    """
    if not doses:
        raise ValueError("Chứng nhận cần ít nhất một mũi tiêm / A certificate needs at least one dose")
    latest = max((DccDose.of(d) for d in doses), key=lambda d: (d.dose_number, d.date))
    name: dict[str, str] = {}
    if family_name.strip():
        name["fn"] = unicodedata.normalize("NFC", family_name.strip())[:FIELD_MAX_LENGTH]
    name["fnt"] = icao_transliterate(family_name)
    if given_name.strip():
        name["gn"] = unicodedata.normalize("NFC", given_name.strip())[:FIELD_MAX_LENGTH]
        name["gnt"] = icao_transliterate(given_name)
    return {
        "ver": SCHEMA_VERSION,
        "nam": name,
        "dob": birth_date_iso,
        "v": [
            {
                "tg": DISEASE_COVID_19,
                "vp": latest.vp,
                "mp": latest.mp,
                "ma": latest.ma,
                "dn": latest.dose_number,
                "sd": max(latest.total_doses, latest.dose_number),
                "dt": latest.date.isoformat(),
                "co": country,
                "is": issuer[:FIELD_MAX_LENGTH],
                "ci": uvci,
            }
        ],
    }


# A validator compiled from the JSON schema: the schema is walked once, every later call runs plain
# closures (about 20 times faster than a generic validator walking the schema at each call).
Validator = Callable[[Any], list[str]]
_Check = Callable[[Any, str, list[str]], None]
# Keywords that only describe; everything else the compiler does not know is refused, so a new schema
# version cannot be half-checked without notice.
_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "examples", "valueset-uri", "$defs"}
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date(value: str) -> bool:
    if not _FULL_DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date_time(value: str) -> bool:
    if not _DATE_TIME.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


_FORMATS: dict[str, Callable[[str], bool]] = {"date": _is_date, "date-time": _is_date_time}


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def compile_schema(root: Mapping[str, Any]) -> Validator:
    """A validator for the subset of JSON schema 2020-12 the DCC schemas use.

    Supports ``type``, ``required``, ``properties``, ``items``, ``minItems``, ``maxItems``,
    ``pattern`` (unanchored, as JSON schema says), ``maxLength``, ``minimum``, ``format`` (date,
    date-time), local ``$ref`` and ``oneOf``.

    Raises:
        ValueError: the schema uses a keyword outside that subset.
    """
    compiled: dict[str, _Check] = {}

    def resolve(ref: str) -> _Check:
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        name = ref.removeprefix("#/$defs/")
        if name not in compiled:
            compiled[name] = lambda value, path, errors: None  # placeholder while recursing
            compiled[name] = build(root["$defs"][name])
        target = name
        return lambda value, path, errors: compiled[target](value, path, errors)

    def build(schema: Mapping[str, Any]) -> _Check:
        checks: list[_Check] = []
        unknown = set(schema) - _ANNOTATIONS - {
            "type", "required", "properties", "items", "minItems", "maxItems", "pattern", "maxLength",
            "minimum", "format", "$ref", "oneOf",
        }  # fmt: skip
        if unknown:
            raise ValueError(f"unsupported schema keywords {sorted(unknown)}")
        if "$ref" in schema:
            checks.append(resolve(schema["$ref"]))
        if "type" in schema:
            kind, is_kind = schema["type"], _TYPES[schema["type"]]

            def check_type(value: Any, path: str, errors: list[str]) -> None:
                if not is_kind(value):
                    errors.append(f"{path or '/'}: not of type {kind}")

            checks.append(check_type)
        type_guard = _TYPES.get(schema.get("type", ""), lambda v: True)
        if "required" in schema:
            required = list(schema["required"])

            def check_required(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, dict):
                    errors.extend(f"{path}/{key}: required" for key in required if key not in value)

            checks.append(check_required)
        if "properties" in schema:
            properties = [(key, build(sub)) for key, sub in schema["properties"].items()]

            def check_properties(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, dict):
                    for key, check in properties:
                        if key in value:
                            check(value[key], f"{path}/{key}", errors)

            checks.append(check_properties)
        if "items" in schema:
            item_check = build(schema["items"])

            def check_items(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, list):
                    for index, item in enumerate(value):
                        item_check(item, f"{path}/{index}", errors)

            checks.append(check_items)
        if "minItems" in schema or "maxItems" in schema:
            low, high = schema.get("minItems", 0), schema.get("maxItems")

            def check_count(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, list) and (len(value) < low or (high is not None and len(value) > high)):
                    errors.append(
                        f"{path}: {len(value)} items, expected {low} to {high if high is not None else 'any'}"
                    )

            checks.append(check_count)
        if "pattern" in schema:
            pattern = re.compile(schema["pattern"])

            def check_pattern(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, str) and not pattern.search(value):
                    errors.append(f"{path}: {value!r} does not match {pattern.pattern}")

            checks.append(check_pattern)
        if "maxLength" in schema:
            longest = schema["maxLength"]

            def check_length(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, str) and len(value) > longest:
                    errors.append(f"{path}: longer than {longest} characters")

            checks.append(check_length)
        if "minimum" in schema:
            minimum = schema["minimum"]

            def check_minimum(value: Any, path: str, errors: list[str]) -> None:
                if type_guard(value) and isinstance(value, int | float) and value < minimum:
                    errors.append(f"{path}: below the minimum {minimum}")

            checks.append(check_minimum)
        if "format" in schema:
            name, is_format = schema["format"], _FORMATS[schema["format"]]

            def check_format(value: Any, path: str, errors: list[str]) -> None:
                if isinstance(value, str) and not is_format(value):
                    errors.append(f"{path}: {value!r} is not a valid {name}")

            checks.append(check_format)
        if "oneOf" in schema:
            branches = [build(sub) for sub in schema["oneOf"]]

            def check_one_of(value: Any, path: str, errors: list[str]) -> None:
                matching = 0
                for branch in branches:
                    found: list[str] = []
                    branch(value, path, found)
                    matching += not found
                if matching != 1:
                    errors.append(
                        f"{path or '/'}: matches {matching} of the alternatives, expected exactly one"
                    )

            checks.append(check_one_of)

        def check_all(value: Any, path: str, errors: list[str]) -> None:
            for check in checks:
                check(value, path, errors)

        return check_all

    top = build(root)

    def validate(payload: Any) -> list[str]:
        errors: list[str] = []
        top(payload, "", errors)
        return errors

    return validate


@cache
def _validator() -> Validator:
    return compile_schema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def json_form(value: Any) -> Any:
    """The JSON value of a CBOR-decoded one: tagged date-times (CBOR tags 0 and 1, allowed for ``sc``)
    become their RFC 3339 text, other tags their content."""
    if isinstance(value, dict):
        return {key: json_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_form(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, cbor2.CBORTag):
        return json_form(value.value)
    return value


def dgc_schema_errors(payload: Any) -> list[str]:
    """What makes ``payload`` invalid against the DCC JSON schema 1.3.0 (empty when valid).

    The payload may come straight from CBOR (see ``json_form``). Each error names the path of the value,
    e.g. ``/v/0/dn: below the minimum 1``.
    """
    errors = _validator()(payload)
    # Converting costs as much as validating: only a payload that fails is looked at again as JSON.
    if errors and (converted := json_form(payload)) != payload:
        errors = _validator()(converted)
    return errors


@cache
def value_sets() -> dict[str, dict[str, str]]:
    """The EU value sets a vaccination entry uses: set name → code → display name."""
    data = json.loads(VALUE_SETS_PATH.read_text(encoding="utf-8"))
    return {key: value for key, value in data.items() if not key.startswith("$")}


_ENTRY_VALUE_SETS = {
    "tg": "disease-agent-targeted",
    "vp": "vaccine-prophylaxis",
    "mp": "vaccine-medicinal-product",
    "ma": "vaccine-mah-manf",
}


def dgc_value_set_errors(payload: Mapping[str, Any]) -> list[str]:
    """Codes of the vaccination entries that are not in the EU value sets (empty when all are known).

    The schema itself does not restrict the codes (value sets change without a schema version), so
    this is checked when issuing, not when verifying another country's certificate.
    """
    sets = value_sets()
    errors = []
    for index, entry in enumerate(payload.get("v") or []):
        for key, set_name in _ENTRY_VALUE_SETS.items():
            code = entry.get(key) if isinstance(entry, Mapping) else None
            if code not in sets[set_name]:
                errors.append(f"/v/{index}/{key}: {code!r} is not in the value set {set_name}")
    return errors
