"""Normalising an NWB Subject's sex and age the way DANDI reads them, but leniently: a value
we cannot interpret yields None (the raw value is kept) instead of failing the extraction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

PATO_MALE = "http://purl.obolibrary.org/obo/PATO_0000384"
PATO_FEMALE = "http://purl.obolibrary.org/obo/PATO_0000383"


@dataclass(frozen=True)
class Sex:
    code: str | None  # M, F, U, O; None for a URI we do not know
    uri: str | None
    name: str | None


_SEXES = {
    "m": Sex("M", PATO_MALE, "Male"),
    "male": Sex("M", PATO_MALE, "Male"),
    "f": Sex("F", PATO_FEMALE, "Female"),
    "female": Sex("F", PATO_FEMALE, "Female"),
    "u": Sex("U", None, "Unknown"),
    "unknown": Sex("U", None, "Unknown"),
    "o": Sex("O", None, "Other"),
    "other": Sex("O", None, "Other"),
}
_SEX_BY_URI = {PATO_MALE: _SEXES["m"], PATO_FEMALE: _SEXES["f"]}


def match_sex(value: str | None) -> Sex | None:
    """M/F/U/O, the words, or an ontology URI; None for empty or uninterpretable values."""
    text = (value or "").strip()
    if text.lower().startswith("http"):
        return _SEX_BY_URI.get(text, Sex(None, text, None))
    return _SEXES.get(text.lower())


@dataclass(frozen=True)
class Age:
    iso: str  # ISO-8601 duration, or a range "P1D/P3D" ("/P3D": open start)
    reference: str  # "Birth" or "Gestational"

    @property
    def days(self) -> float | None:
        """The age in days for range search: the lower bound of a range, else its upper one."""
        lower, _, upper = self.iso.partition("/")
        return _days(lower or upper)


_NUMBER = r"\d+(?:\.\d+)?"
_ISO = re.compile(
    rf"P(?!$)(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?"
)
# Free-form units; a bare "m" is a month, as in dandi-cli ("min" spells minutes).
_UNITS = {
    "Y": r"y|yrs?|years?",
    "M": r"m|mos?|mon|months?",
    "W": r"w|wks?|weeks?",
    "D": r"d|days?",
    "TH": r"h|hrs?|hours?",
    "TM": r"mins?|minutes?",
    "TS": r"s|secs?|seconds?",
}
_TOKEN = re.compile(
    rf"({_NUMBER})\s*(?:({_UNITS['Y']})|({_UNITS['M']})|({_UNITS['W']})|({_UNITS['D']})"
    rf"|({_UNITS['TH']})|({_UNITS['TM']})|({_UNITS['TS']}))\b",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})")
_UNIT_ORDER = ("Y", "M", "W", "D", "TH", "TM", "TS")
_DAYS_PER = {"Y": 365.25, "M": 30.4375, "W": 7.0, "D": 1.0}
_DAYS_PER_TIME = {"H": 1 / 24, "M": 1 / 1440, "S": 1 / 86400}


def match_age(value: str | None) -> Age | None:
    """An ISO-8601 duration or range, or a free form ("90 days", "3 weeks 2 days", "1:30:00",
    "gestational 12 days"); None when it cannot be read."""
    text = (value or "").strip()
    reference = "Birth"
    if gestational := re.match(r"gest\w*\s*", text, re.IGNORECASE):
        text, reference = text[gestational.end() :], "Gestational"
    iso = _iso_range(text) if "/" in text else _iso_or_free(text)
    return Age(iso, reference) if iso else None


def age_from_birth(date_of_birth: datetime, session_start: datetime) -> Age | None:
    """The exact age at the session, as dandi-cli computes it (days, then seconds)."""
    delta = session_start - date_of_birth
    if delta.total_seconds() < 0:
        return None
    seconds = delta.seconds + delta.microseconds / 1e6
    iso = "P" + (f"{delta.days}D" if delta.days else "")
    if seconds:
        iso += f"T{seconds:g}S"
    return Age(iso if iso != "P" else "P0D", "Birth")


def _iso_range(text: str) -> str | None:
    lower, upper = (part.strip() for part in text.split("/", 1))
    bounds = [_iso(part) if part else "" for part in (lower, upper)]
    if None in bounds or bounds == ["", ""]:
        return None
    return f"{bounds[0]}/{bounds[1]}"


def _iso_or_free(text: str) -> str | None:
    return _iso(text) if text[:1] in ("P", "p") else _free_form(text)


def _iso(text: str) -> str | None:
    normal = text.replace(",", ".").upper()
    return normal if _ISO.fullmatch(normal) else None


def _free_form(text: str) -> str | None:
    parts: dict[str, str] = {}
    for match in _TOKEN.finditer(text):
        unit = _UNIT_ORDER[next(i for i, g in enumerate(match.groups()[1:]) if g)]
        if unit in parts:
            return None  # "3 days 2 days" is not an age
        parts[unit] = _number(match[1])
    rest = _TOKEN.sub(" ", text)
    if clock := _CLOCK.search(rest):
        if parts.keys() & {"TH", "TM", "TS"}:
            return None
        parts.update(TH=str(int(clock[1])), TM=str(int(clock[2])), TS=str(int(clock[3])))
        rest = _CLOCK.sub(" ", rest)
    if not parts or re.sub(r"[\s,;()]|\band\b|\bold\b", "", rest, flags=re.IGNORECASE):
        return None
    return _compose(parts)


def _compose(parts: dict[str, str]) -> str:
    date = "".join(parts[u] + u for u in ("Y", "M", "W", "D") if u in parts)
    time = "".join(parts[u] + u[1] for u in ("TH", "TM", "TS") if u in parts)
    return "P" + date + ("T" + time if time else "")


def _number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else str(value)


def _days(iso: str) -> float | None:
    if not _ISO.fullmatch(iso):
        return None
    date, _, time = iso[1:].partition("T")
    total = sum(float(n) * _DAYS_PER[u] for n, u in re.findall(rf"({_NUMBER})([YMWD])", date))
    total += sum(float(n) * _DAYS_PER_TIME[u] for n, u in re.findall(rf"({_NUMBER})([HMS])", time))
    return total
