"""Reads the generator needs: one province's communes (with their old codes) and facilities."""

from collections import Counter

from vaxreg.core.cccd import CCCD_PROVINCES
from vaxreg.places.models import Commune, LegacyCommune
from vaxreg.places.selectors import legacy_province_for_new, province_communes, province_facilities
from vaxreg.synth.generator import SynthCommune, SynthPlace

# Provinces where a hamlet is an "ấp" rather than a "thôn" (2025 codes, Đồng Nai southwards).
_SOUTH = frozenset({"75", "79", "80", "82", "86", "91", "92", "96"})


def synth_place_get(province_code: str) -> SynthPlace:
    """The province as the generator sees it; communes or facilities may be empty (the caller says why)."""
    communes = province_communes(province_code)
    facilities = province_facilities(province_code)
    own_codes = [p.cccd_code for p in legacy_province_for_new(province_code)]
    new_codes = set(Commune.objects.values_list("code", flat=True))
    legacy: dict[str, list[str]] = {}
    votes: dict[str, Counter[str]] = {}
    rows = LegacyCommune.objects.filter(new_commune__province_id=province_code).values_list(
        "code", "new_commune_id", "province__cccd_code"
    )
    for code, new_code, cccd_code in rows.order_by("code"):
        votes.setdefault(new_code, Counter())[cccd_code] += 1
        if code not in new_codes:  # an old code that is also a 2025 code would read as the 2025 commune
            legacy.setdefault(new_code, []).append(code)
    fallback = own_codes[0] if own_codes else next(iter(sorted(CCCD_PROVINCES)))

    def birth_code(commune_code: str) -> str:
        counts = votes.get(commune_code)
        if not counts:
            return fallback
        return min(counts, key=lambda code: (-counts[code], code))

    return SynthPlace(
        province_code=province_code,
        communes=tuple(
            SynthCommune(
                code=c.code,
                name=c.name,
                urban=c.kind == "phuong",
                cccd_code=birth_code(c.code),
                legacy_codes=tuple(legacy.get(c.code, ())),
            )
            for c in communes
        ),
        facilities=tuple((f.code, f.commune_id) for f in facilities if f.is_active),
        cccd_codes=tuple(sorted(CCCD_PROVINCES)),
        south=province_code in _SOUTH,
    )
