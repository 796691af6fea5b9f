"""The payload of a vaccination certificate: EU DCC JSON schema 1.3.0 (SPEC §8).

``dgc_vaccination_payload`` builds it; ``dgc_schema_errors`` checks any DCC payload (vaccination, test or
recovery) against the official schema of the version it declares (files in ``data/``, each compiled once
into a validator) and against the few facts of payload validation a schema cannot state
(``dgc_payload_errors``); ``dgc_value_set_errors`` checks the codes of a vaccination entry against the EU
value sets. The name fields carry the name as written (``fn``, ``gn``) and its ICAO 9303
transliteration (``fnt``, ``gnt``).
"""

import datetime as dt
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import cbor2

SCHEMA_VERSION = "1.3.0"
DISEASE_COVID_19 = "840539006"
UVCI_PREFIX = "URN:UVCI:01:"
DATA_DIR = Path(__file__).resolve().parent / "data"
SCHEMA_PATH = DATA_DIR / "DCC.combined-schema-1.3.0.json"
# The official schema of each version we keep (data/README.md says where they come from).
SCHEMA_PATHS = {"1.2.1": DATA_DIR / "DCC.combined-schema-1.2.1.json", SCHEMA_VERSION: SCHEMA_PATH}
VALUE_SETS_PATH = DATA_DIR / "dcc-valuesets.json"
COUNTRY_CODES_PATH = DATA_DIR / "dcc-country-codes.json"
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
    """A real calendar date, written as a full date or as an RFC 3339 date-time.

    JSON schema 2020-12 makes ``format`` an annotation unless a validator opts in, so the date-times some
    member states write in ``dt``, ``fr``, ``df`` and ``du`` pass validators that keep that default, and
    the EU test data (Poland in versions 1.0.0, 1.2.1 and 1.3.0, Singapore) expects them to; the day they
    name is still unambiguous. What is checked is that the date is a real one.
    """
    if _FULL_DATE.match(value):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return _is_date_time(value)


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


def compile_schema(root: Mapping[str, Any]) -> Validator:  # noqa: C901 — one branch per JSON-schema keyword of the DCC subset, in the order they are checked
    """A validator for the subset of JSON schema 2020-12 the DCC schemas use.

    Supports ``type``, ``required``, ``properties``, ``items``, ``minItems``, ``maxItems``,
    ``pattern`` (unanchored, as JSON schema says), ``maxLength``, ``minimum``, ``maximum`` (schema 1.2.1
    caps dose numbers at 9), ``format`` (date, date-time), local ``$ref`` and ``oneOf``.

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

    def build(schema: Mapping[str, Any]) -> _Check:  # noqa: C901 — one branch per JSON-schema keyword of the DCC subset, in the order they are checked
        checks: list[_Check] = []
        unknown = set(schema) - _ANNOTATIONS - {
            "type", "required", "properties", "items", "minItems", "maxItems", "pattern", "maxLength",
            "minimum", "maximum", "format", "$ref", "oneOf",
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
        if "maximum" in schema:
            maximum = schema["maximum"]

            def check_maximum(value: Any, path: str, errors: list[str]) -> None:
                if type_guard(value) and isinstance(value, int | float) and value > maximum:
                    errors.append(f"{path or '/'}: above the maximum {maximum}")

            checks.append(check_maximum)
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


_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.\d+$")


@cache
def _validator(version: str = SCHEMA_VERSION) -> Validator:
    return compile_schema(json.loads(SCHEMA_PATHS[version].read_text(encoding="utf-8")))


@lru_cache(maxsize=64)
def dgc_schema_version(declared: str | None) -> str:
    """The schema version a payload declaring ``ver`` is checked against.

    A certificate is valid under the schema it was issued for: 1.3.0 added rules (one entry per group,
    exactly one group, longer fields) that earlier certificates need not follow. Every 1.x before 1.3
    is checked against 1.2.1, the last release of that line, whose rules 1.1.0 shares; 1.3.0 and anything
    later or unreadable against 1.3.0, the newest we keep (its ``ver`` pattern refuses what is malformed).
    """
    match = _VERSION.match(declared) if declared else None
    if match and int(match["major"]) == 1 and int(match["minor"]) < 3:
        return "1.2.1"
    return SCHEMA_VERSION


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


def dgc_schema_errors(payload: Any, *, issued_at: dt.datetime | None = None) -> list[str]:
    """What makes ``payload`` invalid (empty when valid): the DCC JSON schema of the version it declares
    (``dgc_schema_version``), then the payload facts a schema cannot state (``dgc_payload_errors``).

    The payload may come straight from CBOR (see ``json_form``). Each error names the path of the value,
    e.g. ``/v/0/dn: below the minimum 1``. ``issued_at`` is the certificate's issue time (CWT ``iat``):
    without it no date is checked against it.
    """
    declared = payload.get("ver") if isinstance(payload, dict) else None
    validate = _validator(dgc_schema_version(declared if isinstance(declared, str) else None))
    errors = validate(payload)
    # Converting costs as much as validating: only a payload that fails is looked at again as JSON.
    if errors and (converted := json_form(payload)) != payload:
        payload = converted
        errors = validate(payload)
    if isinstance(payload, dict):
        errors.extend(dgc_payload_errors(payload, issued_at=issued_at))
    return errors


@cache
def country_codes() -> frozenset[str]:
    """The ISO 3166 alpha-2 codes of the EU value set country-2-codes (and XK, see the data file)."""
    data = json.loads(COUNTRY_CODES_PATH.read_text(encoding="utf-8"))
    return frozenset(data["country-2-codes"])


_GROUPS = ("v", "t", "r")
# A birth date is a local date and ``iat`` a UTC time: at the far end of the date line the date is ahead.
_DATE_LINE_MARGIN = dt.timedelta(days=1)


def dgc_payload_errors(payload: Mapping[str, Any], *, issued_at: dt.datetime | None = None) -> list[str]:
    """The facts of a DCC payload that verifiers check beyond its schema (empty when all hold).

    Each is one the EU test data expects and none of its files contradicts:

    - exactly one group of ``v``, ``t``, ``r``: a certificate is a vaccination, a test or a recovery
      (the DCC specification; schema 1.3.0 states it with ``oneOf``, earlier schemas did not).
    - ``co`` of each entry is a country (ISO 3166 alpha-2): the schema's pattern lets any capitals pass,
      but its ``valueset-uri`` names the country value set, which changes only when the world does.
      Codes of vaccines, manufacturers and test devices are not checked here: those sets grow without a
      new schema, and an offline verifier with an older copy would refuse real certificates.
    - ``dob`` is not after the day the certificate was issued (``issued_at``): nobody gets a certificate
      before being born. The verification clock is not used: a verifier reaches this step only when
      ``iat`` is not after its clock, and the test files that set a clock before ``iat`` expect a
      certificate of someone born on its day of issue to pass.
    - a forename written in ``gn`` has its standardised form in ``gnt`` when ``gnt`` is there: an empty
      ``gnt`` beside a forename means it could not be transliterated (ICAO 9303), so the certificate
      cannot be matched to a travel document. A missing ``gnt`` is allowed, as the schema allows it.

    Month 00 in a partial birth date is deliberately not refused: the test files expect it to pass.
    """
    errors: list[str] = []
    groups = [group for group in _GROUPS if payload.get(group) is not None]
    if len(groups) > 1:
        errors.append(f"/: holds {' and '.join(groups)}; a certificate holds exactly one of v, t, r")
    countries = country_codes()
    for group in groups:
        entries = payload[group]
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            code = entry.get("co") if isinstance(entry, Mapping) else None
            if isinstance(code, str) and code and code not in countries:
                errors.append(f"/{group}/{index}/co: {code!r} is not an ISO 3166 country code")
    birth = payload.get("dob")
    if issued_at is not None and isinstance(birth, str) and birth:
        latest = (issued_at + _DATE_LINE_MARGIN).date().isoformat()
        # ISO dates compare as text, and a partial date ("1963", "1964-01") against as much of the other.
        if birth[:10] > latest[: len(birth[:10])]:
            errors.append(f"/dob: {birth!r} is after the certificate was issued ({issued_at.date()})")
    name = payload.get("nam")
    if isinstance(name, Mapping) and name.get("gn") and name.get("gnt") == "":
        errors.append("/nam/gnt: empty, yet the forename gn is given")
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
