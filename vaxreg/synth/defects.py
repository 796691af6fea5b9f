"""The defects a synthetic file can carry, their rates, and the text mutations that produce them.

Each rate is the share of *persons* that carry that defect; a person carries at most one kind, so the
rates add up to the share of defective persons. Person-level defects (a wrong gender, a missing ID) show
on every row of that person, since a person has one record; dose-level ones on the rows they touch.
"""

import unicodedata
from dataclasses import asdict, dataclass, fields
from random import Random

from vaxreg.synth.tables import strip_diacritics

# The SPEC §5 rule a defect should trigger; DOB_SWAPPED (day and month swapped) has no rule of its own:
# it shows as DOB_INVALID when the day was above 12, and as a wrong but possible date otherwise.
DEFECT_CODES: tuple[str, ...] = (
    "NAME_MISSING",
    "DOB_MISSING",
    "GENDER_MISSING",
    "ID_MISSING",
    "ID_FORMAT",
    "ID_LEADING_ZEROS",
    "ID_GENDER_MISMATCH",
    "ID_BIRTHYEAR_MISMATCH",
    "ID_SHARED",
    "DOB_INVALID",
    "DOB_SWAPPED",
    "NAME_SUSPECT",
    "NAME_NO_DIACRITICS",
    "PHONE_INVALID",
    "DOSE_DATE_FUTURE",
    "DOSE_BEFORE_CAMPAIGN",
    "DOSE_BEFORE_BIRTH",
    "DOSE_VACCINE_UNKNOWN",
    "DOSE_DUPLICATE",
    "DOSE_NUMBER_CONFLICT",
    "DOSE_INTERVAL_SHORT",
    "DOSE_AGE_INELIGIBLE",
    "DUPLICATE_SUSPECT",
)


@dataclass(frozen=True)
class DefectRates:
    """Share of persons carrying each defect; the defaults give about 17% of rows with a defect."""

    name_missing: float = 0.006
    dob_missing: float = 0.010
    gender_missing: float = 0.006
    id_missing: float = 0.035
    id_format: float = 0.006
    id_leading_zeros: float = 0.012
    id_gender_mismatch: float = 0.008
    id_birthyear_mismatch: float = 0.008
    id_shared: float = 0.003
    dob_invalid: float = 0.004
    dob_swapped: float = 0.005
    name_suspect: float = 0.006
    name_no_diacritics: float = 0.025
    phone_invalid: float = 0.012
    dose_date_future: float = 0.002
    dose_before_campaign: float = 0.003
    dose_before_birth: float = 0.002
    dose_vaccine_unknown: float = 0.004
    dose_duplicate: float = 0.005
    dose_number_conflict: float = 0.004
    dose_interval_short: float = 0.004
    dose_age_ineligible: float = 0.002
    duplicate_suspect: float = 0.008

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rate {f.name} must be within 0–1, got {value}")
        if self.total() > 1.0 + 1e-9:
            raise ValueError(f"the rates add up to {self.total():.3f}: a person carries at most one defect")

    @classmethod
    def none(cls) -> "DefectRates":
        """A clean file: every row right."""
        return cls(**{f.name: 0.0 for f in fields(cls)})

    @classmethod
    def uniform(cls, rate: float) -> "DefectRates":
        """The same rate for every kind (tests and benchmarks that need each kind to show up)."""
        return cls(**{f.name: rate for f in fields(cls)})

    def total(self) -> float:
        return sum(asdict(self).values())

    def by_code(self) -> dict[str, float]:
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}


assert [f.name.upper() for f in fields(DefectRates)] == list(DEFECT_CODES)

_TONES = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # huyền, sắc, ngã, hỏi, nặng


def _retone(word: str, rng: Random) -> str:
    """Move a syllable's tone mark to another tone (the commonest Telex typo), or add one if it has none."""
    decomposed = unicodedata.normalize("NFD", word)
    marks = [i for i, ch in enumerate(decomposed) if ch in _TONES]
    if marks:
        i = marks[0]
        other = rng.choice([t for t in _TONES if t != decomposed[i]])
        decomposed = decomposed[:i] + other + decomposed[i + 1 :]
    else:
        vowels = [i for i, ch in enumerate(decomposed) if ch.lower() in "aeiouy"]
        if not vowels:
            return word + word[-1]
        i = vowels[-1]
        decomposed = decomposed[: i + 1] + rng.choice(_TONES) + decomposed[i + 1 :]
    return unicodedata.normalize("NFC", decomposed)


def name_typo(name: str, rng: Random) -> str:
    """The same person's name as another facility typed it: a tone, a letter or a middle name differs.

    The result still has diacritics and at least two words, so it reads as a plausible different name.
    """
    words = name.split(" ")
    for _ in range(20):
        kind = rng.random()
        changed = list(words)
        if kind < 0.45:
            i = rng.randrange(len(changed))
            changed[i] = _retone(changed[i], rng)
        elif kind < 0.7 and len(changed) >= 3:
            del changed[rng.randrange(1, len(changed) - 1)]  # the middle name left out
        else:
            i = rng.randrange(len(changed))
            word = changed[i]
            if len(word) >= 3:
                j = rng.randrange(1, len(word) - 1)
                changed[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]  # two letters swapped
            else:
                changed[i] = word + word[-1]
        candidate = unicodedata.normalize("NFC", " ".join(changed))
        if candidate != name and len(candidate.split(" ")) >= 2 and strip_diacritics(candidate) != candidate:
            return candidate
    return unicodedata.normalize("NFC", " ".join([_retone(words[0], rng), *words[1:]]))
