"""DANDI's ``?search=`` syntax: what parses, into what, and the exact 400 messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dandelion_api.search.syntax import (
    MAX_QUERY_LENGTH,
    Bound,
    DateField,
    DateFilter,
    ParsedSearch,
    SearchSyntaxError,
    parse_search,
)


def _error(query: str) -> str:
    with pytest.raises(SearchSyntaxError) as caught:
        parse_search(query)
    assert caught.value.status_code == 400
    assert caught.value.body() == {"search": caught.value.message}
    return caught.value.message


def _midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


# --- free text ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", " ", "   \t\n ", "\x00", '""', '"" ""'])
def test_nothing_to_search_parses_empty(query: str) -> None:
    parsed = parse_search(query)
    assert parsed == ParsedSearch()
    assert parsed.is_empty


def test_words_are_split_on_whitespace() -> None:
    parsed = parse_search("  hippocampus\tplace\ncells  ")
    assert parsed.words == ("hippocampus", "place", "cells")
    assert parsed.phrases == ()
    assert parsed.terms == ("hippocampus", "place", "cells")


def test_quoted_phrase_is_kept_whole() -> None:
    parsed = parse_search('"place cells" hippocampus')
    assert parsed.words == ("hippocampus",)
    assert parsed.phrases == ("place cells",)
    assert parsed.terms == ("hippocampus", "place cells")


def test_phrase_keeps_inner_whitespace_verbatim() -> None:
    assert parse_search('"  two  spaces "').phrases == ("  two  spaces ",)


def test_quoted_operator_lookalike_is_free_text() -> None:
    parsed = parse_search('"foo:bar" "species:mouse"')
    assert parsed.phrases == ("foo:bar", "species:mouse")
    assert parsed.species == ()


def test_unicode_words_and_accents_are_kept_for_downstream_folding() -> None:
    parsed = parse_search('Buzsáki "Ca²⁺ imaging" 小鼠 naïve')
    assert parsed.words == ("Buzsáki", "小鼠", "naïve")
    assert parsed.phrases == ("Ca²⁺ imaging",)


def test_unicode_whitespace_separates_words() -> None:
    assert parse_search("mouse\u00a0rat\u2003cat").words == ("mouse", "rat", "cat")


def test_nul_characters_are_dropped() -> None:
    assert parse_search("mou\x00se").words == ("mouse",)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("Species:mouse", ("Species:mouse",)),  # only lowercase keys are operators
        ("SPECIES:mouse", ("SPECIES:mouse",)),
        ("10:30", ("10:30",)),  # digits are not key characters
        ("abc1:x", ("abc1:x",)),
        (":mouse", (":mouse",)),  # no key at all
        ("species:", ("species:",)),  # a key needs a value to be an operator
        ("DANDI:000003", ("DANDI:000003",)),
        ("10.48324/dandi.000003/0.230629.1955", ("10.48324/dandi.000003/0.230629.1955",)),
    ],
)
def test_tokens_that_are_not_operators_are_words(query: str, words: tuple[str, ...]) -> None:
    parsed = parse_search(query)
    assert parsed.words == words
    assert parsed == ParsedSearch(words=words)


def test_quotes_inside_a_bare_token_stay_literal() -> None:
    # DANDI's tokenizer takes any run of non-space characters that does not open with a
    # quote as one token, so these quotes are text; the count is even, so it is no error.
    parsed = parse_search('abc"def ghi"')
    assert parsed.words == ('abc"def', 'ghi"')


def test_phrase_followed_directly_by_a_word() -> None:
    parsed = parse_search('"a b"c')
    assert parsed.phrases == ("a b",)
    assert parsed.words == ("c",)


# --- operators ---------------------------------------------------------------------------


def test_every_operator() -> None:
    parsed = parse_search(
        "created_before:2024-01-02 created_after:2023-01-01 "
        "modified_before:2024-02-02 modified_after:2023-02-01 "
        "published_before:2024-03-02 published_after:2023-03-01 "
        "species:mouse approach:electrophysiological technique:spike "
        "file_type:nwb owner:jdoe"
    )
    assert parsed.words == ()
    assert parsed.dates == (
        DateFilter(DateField.CREATED, Bound.BEFORE, _midnight(2024, 1, 2)),
        DateFilter(DateField.CREATED, Bound.AFTER, _midnight(2023, 1, 1)),
        DateFilter(DateField.MODIFIED, Bound.BEFORE, _midnight(2024, 2, 2)),
        DateFilter(DateField.MODIFIED, Bound.AFTER, _midnight(2023, 2, 1)),
        DateFilter(DateField.PUBLISHED, Bound.BEFORE, _midnight(2024, 3, 2)),
        DateFilter(DateField.PUBLISHED, Bound.AFTER, _midnight(2023, 3, 1)),
    )
    assert parsed.species == ("mouse",)
    assert parsed.approaches == ("electrophysiological",)
    assert parsed.techniques == ("spike",)
    assert parsed.file_types == ("application/x-nwb",)
    assert parsed.owners == ("jdoe",)


def test_operators_mixed_with_free_text() -> None:
    parsed = parse_search("place cells species:mouse created_after:2024-01-01 ca1")
    assert parsed.words == ("place", "cells", "ca1")
    assert parsed.species == ("mouse",)
    assert parsed.dates == (DateFilter(DateField.CREATED, Bound.AFTER, _midnight(2024, 1, 1)),)


@pytest.mark.parametrize(
    ("query", "techniques"),
    [
        ('technique:"patch clamp"', ("patch clamp",)),
        ('technique:"  patch clamp  "', ("patch clamp",)),  # values are stripped
        ('technique:"spike sorting"x', ("spike sorting",)),
    ],
)
def test_quoted_operator_value(query: str, techniques: tuple[str, ...]) -> None:
    assert parse_search(query).techniques == techniques


def test_text_after_a_quoted_value_is_a_separate_word() -> None:
    assert parse_search('technique:"spike sorting"x').words == ("x",)


def test_quoted_value_keeps_special_characters() -> None:
    assert parse_search('species:"C57BL/6"').species == ("C57BL/6",)
    assert parse_search('owner:"Jane Doe"').owners == ("Jane Doe",)


def test_bare_value_runs_to_the_next_space() -> None:
    parsed = parse_search("owner:user@example.com species::odd approach:[pilot]")
    assert parsed.owners == ("user@example.com",)
    assert parsed.species == (":odd",)
    assert parsed.approaches == ("[pilot]",)


def test_unicode_operator_value() -> None:
    assert parse_search("owner:Buzsáki").owners == ("Buzsáki",)


def test_repeated_operators_all_apply() -> None:
    parsed = parse_search(
        "species:mouse species:rat owner:a owner:b "
        "modified_after:2024-01-01 modified_before:2024-02-01"
    )
    assert parsed.species == ("mouse", "rat")
    assert parsed.owners == ("a", "b")
    assert [(d.field, d.bound) for d in parsed.dates] == [
        (DateField.MODIFIED, Bound.AFTER),
        (DateField.MODIFIED, Bound.BEFORE),
    ]


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("nwb", "application/x-nwb"),
        ("NWB", "application/x-nwb"),  # aliases are case-insensitive
        ("image", "image/"),
        ("text", "text/"),
        ("video", "video/"),
        ("application/json", "application/json"),  # anything else is a MIME prefix
        ("Image/TIFF", "Image/TIFF"),
    ],
)
def test_file_type_aliases(value: str, prefix: str) -> None:
    assert parse_search(f"file_type:{value}").file_types == (prefix,)


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-05", _midnight(2024, 1, 5)),
        ("2024-1-5", _midnight(2024, 1, 5)),  # strptime does not insist on zero padding
        ("2024-12-31", _midnight(2024, 12, 31)),
        ("2024-02-29", _midnight(2024, 2, 29)),
        ("0001-01-01", _midnight(1, 1, 1)),
        # strptime's \d takes any Unicode digit, here FULLWIDTH DIGIT 2, 0, 2, 4
        ("\uff12\uff10\uff12\uff14-01-01", _midnight(2024, 1, 1)),
    ],
)
def test_accepted_dates(value: str, expected: datetime) -> None:
    (date_filter,) = parse_search(f"created_after:{value}").dates
    assert date_filter.at == expected
    assert date_filter.at.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "not-a-date",
        "2024-13-01",
        "2023-02-29",
        "2024-01-32",
        "24-01-01",
        "2024/01/01",
        "2024-01-01T00:00:00",
        "2024-01-01Z",
        "20240101",
        "2024-01",
    ],
)
def test_rejected_dates(value: str) -> None:
    assert _error(f"published_before:{value}") == (
        f'Invalid date for "published_before": {value!r}. Use YYYY-MM-DD.'
    )


def test_date_error_shows_the_stripped_value() -> None:
    assert _error('created_before:" soon "') == (
        "Invalid date for \"created_before\": 'soon'. Use YYYY-MM-DD."
    )


def test_date_bounds() -> None:
    before = DateFilter(DateField.CREATED, Bound.BEFORE, _midnight(2024, 1, 2))
    after = DateFilter(DateField.CREATED, Bound.AFTER, _midnight(2024, 1, 2))
    assert before.admits(datetime(2024, 1, 1, 23, 59, tzinfo=UTC))
    assert not before.admits(_midnight(2024, 1, 2))
    assert after.admits(_midnight(2024, 1, 2))
    assert not after.admits(datetime(2024, 1, 1, 23, 59, tzinfo=UTC))
    assert not before.admits(None)
    assert not after.admits(None)


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("specis", "species"),
        ("specie", "species"),
        ("createdafter", "created_after"),
        ("created", "created_after"),
        ("publish_before", "published_before"),
        ("filetype", "file_type"),
        ("owners", "owner"),
        ("techniques", "technique"),
        ("aproach", "approach"),
    ],
)
def test_misspelt_operator_gets_a_suggestion(key: str, suggestion: str) -> None:
    assert _error(f"{key}:mouse") == (
        f'Unknown search operator "{key}". Did you mean "{suggestion}"? '
        'Wrap the term in double quotes (e.g. "foo:bar") to search for it as text.'
    )


@pytest.mark.parametrize("query", ["foo:bar", 'zzz:"quoted value"', "https://dandiarchive.org"])
def test_unknown_operator_without_a_close_match(query: str) -> None:
    key = query.split(":", 1)[0]
    assert _error(query) == (
        f'Unknown search operator "{key}". '
        'Wrap the term in double quotes (e.g. "foo:bar") to search for it as text.'
    )


def test_first_unknown_operator_is_reported() -> None:
    assert _error("mouse specis:x foo:y").startswith('Unknown search operator "specis".')


@pytest.mark.parametrize("query", ['foo "bar', '"', 'hello "world species:mouse', '"a" "b" "'])
def test_unbalanced_quotes(query: str) -> None:
    assert _error(query) == (
        "Unbalanced quote in search query. Remove the stray quote, or wrap "
        "the intended phrase in matched quotes."
    )


@pytest.mark.parametrize("query", ['species:""', 'owner:"   "', 'technique:"\u00a0"'])
def test_empty_operator_value(query: str) -> None:
    key = query.split(":", 1)[0]
    assert _error(query) == f'Operator "{key}" requires a value (e.g. {key}:something).'


def test_length_cap_is_1024_characters() -> None:
    assert parse_search("a" * MAX_QUERY_LENGTH).words == ("a" * MAX_QUERY_LENGTH,)
    assert _error("a" * (MAX_QUERY_LENGTH + 1)) == (
        "Search query is too long (1025 characters; max 1024)."
    )


def test_length_counts_characters_not_bytes() -> None:
    assert parse_search("é" * MAX_QUERY_LENGTH).words == ("é" * MAX_QUERY_LENGTH,)


def test_nul_characters_do_not_count_towards_the_cap() -> None:
    assert parse_search("a" * MAX_QUERY_LENGTH + "\x00").words == ("a" * MAX_QUERY_LENGTH,)


def test_syntax_errors_come_before_value_errors() -> None:
    # DANDI parses the whole query before checking any value, whatever the token order.
    assert _error("created_after:bad specis:x").startswith('Unknown search operator "specis"')
    assert _error('created_after:bad "').startswith("Unbalanced quote")
    assert _error("a" * 1030 + ' " x').startswith("Search query is too long")


def test_value_errors_come_in_operator_order() -> None:
    assert _error('created_after:bad species:""').startswith('Invalid date for "created_after"')
    assert _error('species:"" created_after:bad').startswith('Operator "species" requires')
