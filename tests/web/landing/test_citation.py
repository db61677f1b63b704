"""Citations of a version in APA, BibTeX, RIS and CFF, as pure functions of its metadata."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from dandelion_web.landing.citation import (
    apa,
    bibtex,
    bibtex_escape,
    bibtex_key,
    cff,
    citable,
    initials,
    ris,
)

DOI = "10.80507/dandi.000123/0.240315.1200"
URL = "https://dandi.example.org/dandiset/000123/0.240315.1200"


def metadata(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "Place cells in CA1",
        "identifier": "DANDI:000123",
        "version": "0.240315.1200",
        "url": URL,
        "doi": DOI,
        "datePublished": "2024-03-15T12:00:31.123456+00:00",
        "dateCreated": "2023-01-02T00:00:00+00:00",
        "license": ["spdx:CC-BY-4.0"],
        "keywords": ["hippocampus", "place cells"],
        "contributor": [
            {"schemaKey": "Person", "name": "Lovelace, Augusta Ada",
             "identifier": "0000-0002-1825-0097", "includeInCitation": True,
             "affiliation": [{"schemaKey": "Affiliation", "name": "Analytical Society"}]},
            {"schemaKey": "Person", "name": "Babbage, Charles", "includeInCitation": True},
            {"schemaKey": "Person", "name": "Hidden, Helper", "includeInCitation": False},
            {"schemaKey": "Organization", "name": "Funding Body", "roleName": ["dcite:Funder"]},
            {"schemaKey": "Organization", "name": "Allen Institute", "includeInCitation": True},
        ],
    }  # fmt: skip
    document.update(changes)
    return document


def work(**changes: Any) -> Any:
    return citable(metadata(**changes), publisher="DANDI Archive", url=URL)


def test_only_contributors_included_in_citation_are_authors() -> None:
    names = [a.name for a in work().authors]
    # "Hidden" opted out; the funder organisation is out by dandischema's default.
    assert names == ["Lovelace, Augusta Ada", "Babbage, Charles", "Allen Institute"]


def test_a_person_without_the_flag_is_an_author_as_dandischema_defaults() -> None:
    found = work(contributor=[{"schemaKey": "Person", "name": "Curie, Marie"}])
    assert [a.name for a in found.authors] == ["Curie, Marie"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("Augusta Ada", "A. A."), ("Jean-Paul", "J.-P."), ("J.R.R.", "J. R. R."), ("ada", "A.")],
)
def test_initials(given: str, expected: str) -> None:
    assert initials(given) == expected


def test_apa_has_initials_year_of_publication_version_and_doi() -> None:
    assert apa(work()) == (
        # APA ends the author part with a period: after an organisation's name too.
        "Lovelace, A. A., Babbage, C., & Allen Institute. (2024). Place cells in CA1 "
        "(Version 0.240315.1200) [Data set]. DANDI Archive. https://doi.org/" + DOI
    )


def test_apa_of_a_draft_has_no_doi_and_the_year_created() -> None:
    draft = work(doi=None, datePublished=None, version="draft")
    text = apa(draft)
    assert "(2023)" in text
    assert text.endswith("DANDI Archive. " + URL)


def test_apa_with_two_authors_and_with_none() -> None:
    two = work(contributor=[{"name": "A, Bee"}, {"name": "C, Dee"}])
    assert apa(two).startswith("A, B., & C, D. (2024). Place cells")
    nobody = apa(work(contributor=[]))
    assert nobody.startswith("Place cells in CA1 (Version 0.240315.1200) [Data set]. (2024).")


def test_bibtex_escapes_specials_so_no_value_closes_its_field() -> None:
    assert bibtex_escape("50% of {all} $x_1 & #2~^\\") == (
        r"50\% of \{all\} \$x\_1 \& \#2\textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    entry = bibtex(work(name="Rats & mice} , title = {pwned"))
    assert r"title = {{Rats \& mice\} , title = \{pwned}}" in entry
    assert entry.count("title = {") == 1


def test_bibtex_entry_has_a_stable_key_and_the_fields() -> None:
    entry = bibtex(work())
    assert entry.startswith("@misc{dandi_000123_0_240315_1200,\n")
    assert bibtex_key(work()) == bibtex_key(work(name="Renamed"))
    assert "author = {Lovelace, Augusta Ada and Babbage, Charles and {Allen Institute}}" in entry
    for line in ("year = {2024}", f"doi = {{{DOI}}}", "publisher = {DANDI Archive}",
                 "version = {0.240315.1200}", "copyright = {CC-BY-4.0}",
                 "keywords = {hippocampus, place cells}"):  # fmt: skip
        assert line in entry
    assert entry.rstrip().endswith("}")


def test_ris_is_a_data_record_one_tag_a_line() -> None:
    lines = ris(work(name="Two\nlines")).splitlines()
    assert lines[0] == "TY  - DATA"
    assert "T1  - Two lines" in lines
    assert [line for line in lines if line.startswith("AU")] == [
        "AU  - Lovelace, Augusta Ada", "AU  - Babbage, Charles", "AU  - Allen Institute",
    ]  # fmt: skip
    assert {"PY  - 2024", "DA  - 2024/03/15", f"DO  - {DOI}", "ET  - 0.240315.1200"} <= set(lines)
    assert lines[-1] == "ER  - "


def test_cff_is_citation_file_format_1_2_0() -> None:
    document = yaml.safe_load(cff(work()))
    assert document["cff-version"] == "1.2.0"
    assert document["message"]
    assert document["title"] == "Place cells in CA1"
    assert document["doi"] == DOI
    assert document["version"] == "0.240315.1200"
    assert str(document["date-released"]) == "2024-03-15"
    assert document["license"] == "CC-BY-4.0"
    assert document["authors"][0] == {
        "family-names": "Lovelace", "given-names": "Augusta Ada",
        "orcid": "https://orcid.org/0000-0002-1825-0097", "affiliation": "Analytical Society",
    }  # fmt: skip
    assert document["authors"][2] == {"name": "Allen Institute"}


def test_cff_survives_hostile_strings() -> None:
    title = 'Title: with "quotes", # hash\n- and a list: [x]'
    assert yaml.safe_load(cff(work(name=title)))["title"] == " ".join(title.split())


def test_cff_of_an_unattributed_draft_still_has_an_author() -> None:
    document = yaml.safe_load(cff(work(contributor=[], doi=None, datePublished=None)))
    assert document["authors"] == [{"name": "DANDI Archive"}]
    assert "doi" not in document
    assert "date-released" not in document


def test_metadata_of_the_wrong_shape_is_skipped_not_fatal() -> None:
    odd = work(contributor="nobody", license=5, keywords={"a": 1})
    assert (odd.authors, odd.license, odd.keywords) == ((), None, ())
    assert apa(odd)
