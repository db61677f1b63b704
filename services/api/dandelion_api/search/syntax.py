"""DANDI's ``?search=`` syntax: Gmail-style ``key:value`` operators among free-text words.

A token is one of ``key:"quoted value"``, ``"quoted phrase"``, ``key:value`` or a bare word.
Quoting a token that looks like an operator (``"foo:bar"``) searches for it as text.

Compatibility notes (each mirrors what dandi-archive answers, so clients see the same 400s):

- only lowercase ASCII keys are operators, so ``Species:mouse`` and ``10:30`` are plain words,
  and a key with nothing after the colon (``species:``) is a plain word too;
- syntax errors (length, unbalanced quotes, unknown keys in token order) are reported before
  value errors (empty values, bad dates in operator order), because DANDI parses the whole
  query before it applies any operator;
- dates are exactly what ``datetime.strptime(value, "%Y-%m-%d")`` accepts, taken as midnight
  UTC; ``*_before`` is exclusive and ``*_after`` inclusive.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dandelion_common.errors import BadRequest

MAX_QUERY_LENGTH = 1024


class Operator(StrEnum):
    CREATED_BEFORE = "created_before"
    CREATED_AFTER = "created_after"
    MODIFIED_BEFORE = "modified_before"
    MODIFIED_AFTER = "modified_after"
    PUBLISHED_BEFORE = "published_before"
    PUBLISHED_AFTER = "published_after"
    SPECIES = "species"
    APPROACH = "approach"
    TECHNIQUE = "technique"
    FILE_TYPE = "file_type"
    OWNER = "owner"


class DateField(StrEnum):
    """What a date operator compares: the dandiset's creation, the ``modified`` of its most
    recently created version, or the creation of its most recent published version."""

    CREATED = "created"
    MODIFIED = "modified"
    PUBLISHED = "published"


class Bound(StrEnum):
    BEFORE = "before"  # strictly earlier than midnight UTC of the date
    AFTER = "after"  # at or after midnight UTC of the date


# Short names the web UI offers for `file_type:`; anything else is taken as a MIME prefix.
FILE_TYPE_ALIASES: dict[str, str] = {
    "nwb": "application/x-nwb",
    "image": "image/",
    "text": "text/",
    "video": "video/",
}


class SearchSyntaxError(BadRequest):
    """A query DANDI would refuse; rendered as DRF renders it: 400 ``{"search": message}``."""

    def body(self) -> Any:
        return {"search": self.message}


@dataclass(frozen=True)
class DateFilter:
    field: DateField
    bound: Bound
    at: datetime  # midnight UTC of the given day

    def admits(self, value: datetime | None) -> bool:
        """Whether a timestamp passes; a missing one (say, never published) never does."""
        if value is None:
            return False
        return value < self.at if self.bound is Bound.BEFORE else value >= self.at


@dataclass(frozen=True)
class ParsedSearch:
    """A parsed query. Every term and every filter must hold (AND); repeated operators add
    clauses rather than replacing each other."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()  # quoted free text, kept whole
    dates: tuple[DateFilter, ...] = ()
    species: tuple[str, ...] = ()
    approaches: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()  # MIME prefixes, aliases already resolved
    owners: tuple[str, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """Every free-text term, each of which must occur as a substring."""
        return self.words + self.phrases

    @property
    def is_empty(self) -> bool:
        return self == ParsedSearch()


# Alternatives are ordered so that quoted segments stay whole: `key:"..."`, then `"..."`,
# then any run of non-space characters (which may itself be `key:value`).
_TOKEN = re.compile(r'(?P<key>[a-z_]+):"(?P<quoted_value>[^"]*)"|"(?P<phrase>[^"]*)"|(?P<bare>\S+)')
_BARE_OPERATOR = re.compile(r"([a-z_]+):(.+)")
_DATE_OPERATORS: dict[Operator, tuple[DateField, Bound]] = {
    Operator(f"{date_field}_{bound}"): (date_field, bound)
    for date_field in DateField
    for bound in Bound
}
_VALUE_OPERATORS = (
    Operator.SPECIES,
    Operator.APPROACH,
    Operator.TECHNIQUE,
    Operator.FILE_TYPE,
    Operator.OWNER,
)


@dataclass
class _Tokens:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    operators: list[tuple[Operator, str]] = field(default_factory=list)


def parse_search(query: str) -> ParsedSearch:
    """Parse a ``?search=`` value, or raise `SearchSyntaxError` with DANDI's message."""
    query = query.replace("\x00", "")  # as DANDI does; PostgreSQL text cannot hold NUL anyway
    if not query:
        return ParsedSearch()
    _check_length(query)
    _check_quotes(query)
    tokens = _tokenize(query)
    return _build(tokens)


def _check_length(query: str) -> None:
    # An unauthenticated caller must not make us scan megabytes of metadata per word.
    if len(query) > MAX_QUERY_LENGTH:
        raise SearchSyntaxError(
            f"Search query is too long ({len(query)} characters; max {MAX_QUERY_LENGTH})."
        )


def _check_quotes(query: str) -> None:
    if query.count('"') % 2:
        raise SearchSyntaxError(
            "Unbalanced quote in search query. Remove the stray quote, or wrap "
            "the intended phrase in matched quotes."
        )


def _tokenize(query: str) -> _Tokens:
    tokens = _Tokens()
    for match in _TOKEN.finditer(query):
        if match["key"] is not None:
            tokens.operators.append((_operator(match["key"]), match["quoted_value"]))
        elif match["phrase"] is not None:
            if match["phrase"]:  # "" is a substring of everything: it filters nothing
                tokens.phrases.append(match["phrase"])
        elif bare := _BARE_OPERATOR.fullmatch(match["bare"]):
            tokens.operators.append((_operator(bare[1]), bare[2]))
        else:
            tokens.words.append(match["bare"])
    return tokens


def _operator(key: str) -> Operator:
    try:
        return Operator(key)
    except ValueError:
        raise SearchSyntaxError(_unknown_operator_message(key)) from None


def _unknown_operator_message(key: str) -> str:
    # difflib ranks ties by name, so the suggestion does not depend on set iteration order.
    close = difflib.get_close_matches(key, [op.value for op in Operator], n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    return (
        f'Unknown search operator "{key}".{hint} '
        'Wrap the term in double quotes (e.g. "foo:bar") to search for it as text.'
    )


def _build(tokens: _Tokens) -> ParsedSearch:
    dates: list[DateFilter] = []
    values: dict[Operator, list[str]] = {operator: [] for operator in _VALUE_OPERATORS}
    for operator, raw in tokens.operators:
        value = raw.strip()
        if not value:
            raise SearchSyntaxError(
                f'Operator "{operator}" requires a value (e.g. {operator}:something).'
            )
        if operator in _DATE_OPERATORS:
            date_field, bound = _DATE_OPERATORS[operator]
            dates.append(DateFilter(date_field, bound, _parse_date(operator, value)))
        elif operator is Operator.FILE_TYPE:
            values[operator].append(FILE_TYPE_ALIASES.get(value.lower(), value))
        else:
            values[operator].append(value)
    return ParsedSearch(
        words=tuple(tokens.words),
        phrases=tuple(tokens.phrases),
        dates=tuple(dates),
        species=tuple(values[Operator.SPECIES]),
        approaches=tuple(values[Operator.APPROACH]),
        techniques=tuple(values[Operator.TECHNIQUE]),
        file_types=tuple(values[Operator.FILE_TYPE]),
        owners=tuple(values[Operator.OWNER]),
    )


def _parse_date(operator: Operator, value: str) -> datetime:
    # strptime, not date.fromisoformat: DANDI accepts what strptime does (e.g. 2024-1-5).
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise SearchSyntaxError(
            f'Invalid date for "{operator}": {value!r}. Use YYYY-MM-DD.'
        ) from None
