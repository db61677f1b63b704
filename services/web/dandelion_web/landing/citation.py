"""How to cite a dandiset version: APA, BibTeX, RIS and CFF, built from its metadata.

Pure functions over one `Citable` (what every format needs), read once from the metadata:
- Authors are the contributors with `includeInCitation`, in their order; when the flag is
  absent dandischema's default applies (true for people, false for organisations), so a
  funder organisation is never listed as an author by omission.
- People are named "Family, Given" (dandischema's pattern): APA keeps the family name and
  the given names' initials; BibTeX and RIS take the name as it is; CFF splits it. A name
  without a comma, and every organisation, is kept whole (BibTeX braces it, so "and" or a
  comma inside it does not split it into people).
- The year is the year of `datePublished` (a draft has none: `dateCreated`, else "n.d.").
- The publisher is "{instance} Archive", as the DOI's DataCite record names it, and the
  link is the DOI when there is one, else the landing page's URL.

These follow what DataCite's content negotiation answers for a DANDI DOI (APA text,
`@misc` BibTeX, `TY  - DATA` RIS) so a citation copied here matches one fetched from doi.org.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


@dataclass(frozen=True)
class Author:
    name: str  # as written: "Family, Given" for a person, the whole name otherwise
    family: str
    given: str
    organization: bool = False
    orcid: str | None = None  # the bare id, 0000-0002-1825-0097
    affiliations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citable:
    title: str
    identifier: str  # DANDI:000123
    version: str
    url: str
    publisher: str
    authors: tuple[Author, ...] = ()
    year: int | None = None
    date: str | None = None  # YYYY-MM-DD of datePublished
    doi: str | None = None
    license: str | None = None  # an SPDX id
    keywords: tuple[str, ...] = field(default_factory=tuple)

    @property
    def link(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else self.url


def _list(value: object) -> list[Any]:
    """A list from user-written JSON, or [] (a draft's metadata is not validated)."""
    return value if isinstance(value, list) else []


def orcid_of(contributor: dict[str, Any]) -> str | None:
    """The bare ORCID id of a person, or None (dandischema keeps it bare; some write URLs)."""
    found = _ORCID.match(str(contributor.get("identifier") or "").strip())
    return found.group(1) if found else None


def in_citation(contributor: dict[str, Any]) -> bool:
    flag = contributor.get("includeInCitation")
    if isinstance(flag, bool):
        return flag
    return contributor.get("schemaKey") != "Organization"


def author_of(contributor: dict[str, Any]) -> Author:
    name = " ".join(str(contributor.get("name") or "").split())
    organization = contributor.get("schemaKey") == "Organization"
    family, comma, given = name.partition(",")
    if organization or not comma:
        family, given = name, ""
    affiliations = tuple(
        str(a["name"])
        for a in _list(contributor.get("affiliation"))
        if isinstance(a, dict) and a.get("name")
    )
    return Author(
        name=name,
        family=family.strip(),
        given=given.strip(),
        organization=organization,
        orcid=None if organization else orcid_of(contributor),
        affiliations=affiliations,
    )


def spdx_id(license_: object) -> str | None:
    """ "spdx:CC-BY-4.0" -> "CC-BY-4.0" (dandischema's license values carry the prefix)."""
    if not isinstance(license_, str) or not license_.strip():
        return None
    text = license_.strip()
    return text[5:] if text.startswith("spdx:") else text


def citable(metadata: dict[str, Any], *, publisher: str, url: str) -> Citable:
    """What the formats need, read from a version's metadata document."""
    authors = tuple(
        author_of(c)
        for c in _list(metadata.get("contributor"))
        if isinstance(c, dict) and c.get("name") and in_citation(c)
    )
    published = str(metadata.get("datePublished") or "")[:10] or None
    created = str(metadata.get("dateCreated") or "")[:4]
    year_text = (published or "")[:4] or created
    licenses = _list(metadata.get("license"))
    return Citable(
        title=" ".join(str(metadata.get("name") or "").split()),
        identifier=str(metadata.get("identifier") or ""),
        version=str(metadata.get("version") or ""),
        url=str(metadata.get("url") or url),
        publisher=publisher,
        authors=authors,
        year=int(year_text) if year_text.isdigit() else None,
        date=published,
        doi=str(metadata["doi"]) if metadata.get("doi") else None,
        license=spdx_id(licenses[0]) if licenses else None,
        keywords=tuple(str(k) for k in _list(metadata.get("keywords")) if str(k).strip()),
    )


# -- APA ------------------------------------------------------------------------------------


def initials(given: str) -> str:
    """ "Augusta Ada" -> "A. A."; "Jean-Paul" -> "J.-P."; an initial stays an initial."""
    words = []
    for word in given.replace(".", ". ").split():
        parts = [p for p in word.split("-") if p]
        words.append("-".join(f"{p[0].upper()}." for p in parts))
    return " ".join(w for w in words if w)


def apa_name(author: Author) -> str:
    if author.organization or not author.given:
        return author.family
    return f"{author.family}, {initials(author.given)}"


def _apa_authors(authors: tuple[Author, ...]) -> str:
    names = [apa_name(a) for a in authors]
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2:
        return f"{names[0]}, & {names[1]}"
    if len(names) > 20:  # APA 7: the first 19, an ellipsis, then the last
        return ", ".join(names[:19]) + ", . . . " + names[-1]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def apa(work: Citable) -> str:
    """APA 7 for a dataset: Authors (Year). Title (Version v) [Data set]. Publisher. Link"""
    year = f"({work.year})" if work.year else "(n.d.)"
    what = f"{work.title} (Version {work.version}) [Data set]."
    authors = _apa_authors(work.authors)
    if authors:
        lead = f"{authors}{'' if authors.endswith('.') else '.'} {year}. {what}"
    else:  # no author: the title takes the author's place
        lead = f"{what} {year}."
    return f"{lead} {work.publisher}. {work.link}"


# -- BibTeX ---------------------------------------------------------------------------------

_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_BIBTEX_PATTERN = re.compile("|".join(re.escape(c) for c in _BIBTEX_SPECIAL))


def bibtex_escape(text: str) -> str:
    """TeX's special characters escaped in one pass (so no escape is escaped again); braces
    escaped means a value can never close its field."""
    flat = " ".join(text.split())
    return _BIBTEX_PATTERN.sub(lambda m: _BIBTEX_SPECIAL[m.group(0)], flat)


def _verbatim(text: str) -> str:
    """A DOI or URL field, which BibTeX styles print verbatim: no braces or backslashes."""
    return re.sub(r"[{}\\\s]", "", text)


def bibtex_key(work: Citable) -> str:
    """Stable: the same version always has the same key (DANDI:000123 0.240101.0000 ->
    dandi_000123_0_240101_0000)."""
    raw = f"{work.identifier}_{work.version}".lower()
    return re.sub(r"[^a-z0-9]+", "_", raw).strip("_") or "dandiset"


def _bibtex_author(author: Author) -> str:
    if author.organization or not author.given:
        return "{" + bibtex_escape(author.family) + "}"
    return bibtex_escape(f"{author.family}, {author.given}")


def bibtex(work: Citable) -> str:
    fields: list[tuple[str, str]] = []
    if work.authors:
        fields.append(("author", " and ".join(_bibtex_author(a) for a in work.authors)))
    # Double braces keep the title's capitals (a name of a species, a brain area).
    fields.append(("title", "{" + bibtex_escape(work.title) + "}"))
    fields.append(("publisher", bibtex_escape(work.publisher)))
    if work.year:
        fields.append(("year", str(work.year)))
    fields.append(("version", bibtex_escape(work.version)))
    if work.doi:
        fields.append(("doi", _verbatim(work.doi)))
    fields.append(("url", _verbatim(work.link)))
    if work.keywords:
        fields.append(("keywords", bibtex_escape(", ".join(work.keywords))))
    if work.license:
        fields.append(("copyright", bibtex_escape(work.license)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{bibtex_key(work)},\n{body}\n}}\n"


# -- RIS ------------------------------------------------------------------------------------


def _ris_line(tag: str, value: str) -> str:
    # A value is one line: a newline in it would start a tag of the writer's choosing.
    return f"{tag}  - {' '.join(value.split())}"


def ris(work: Citable) -> str:
    lines = [_ris_line("TY", "DATA"), _ris_line("T1", work.title)]
    lines += [_ris_line("AU", a.name) for a in work.authors]
    if work.year:
        lines.append(_ris_line("PY", str(work.year)))
    if work.date:
        lines.append(_ris_line("DA", work.date.replace("-", "/")))
    lines.append(_ris_line("PB", work.publisher))
    lines.append(_ris_line("ET", work.version))
    if work.doi:
        lines.append(_ris_line("DO", work.doi))
    lines.append(_ris_line("UR", work.link))
    lines += [_ris_line("KW", k) for k in work.keywords]
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"


# -- CFF ------------------------------------------------------------------------------------


def _cff_author(author: Author) -> dict[str, str]:
    if author.organization or not author.given:
        person: dict[str, str] = {"name": author.family}
    else:
        person = {"family-names": author.family, "given-names": author.given}
    if author.orcid:
        person["orcid"] = f"https://orcid.org/{author.orcid}"
    if author.affiliations:
        person["affiliation"] = "; ".join(author.affiliations)
    return person


def cff(work: Citable) -> str:
    """CITATION.cff (Citation File Format 1.2.0); YAML written by a real emitter, so every
    string is quoted as YAML needs."""
    document: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below.",
        "type": "dataset",
        "title": work.title,
        # CFF requires at least one author; an unattributed draft names its archive.
        "authors": [_cff_author(a) for a in work.authors] or [{"name": work.publisher}],
        "version": work.version,
        "url": work.url,
    }
    if work.doi:
        document["doi"] = work.doi
    if work.date:
        document["date-released"] = work.date
    if work.license:
        document["license"] = work.license
    if work.keywords:
        document["keywords"] = list(work.keywords)
    dumped: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
    return dumped


def all_formats(work: Citable) -> dict[str, str]:
    """Each format's text, in the order the page offers them."""
    return {"APA": apa(work), "BibTeX": bibtex(work), "RIS": ris(work), "CFF": cff(work)}
