"""A version's metadata read into what the landing page shows, one small function per part.

Metadata is user-written JSON (drafts are not validated before they are shown), so every
reader here takes what it finds: a missing key is an empty part, a value of the wrong type
is skipped, never a 500. Values stay text: the template escapes them, and links go through
`safe_url` there, so nothing here decides what is safe to print.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dandelion_web.landing.citation import in_citation, orcid_of, spdx_id

FUNDER = "dcite:Funder"
OPEN_ACCESS = "dandi:OpenAccess"


def label(term: object) -> str:
    """A schema term for people: "dcite:ContactPerson" -> "Contact person",
    "dandi:OpenAccess" -> "Open access"."""
    text = str(term).split(":", 1)[-1]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text).split()
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else ""


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class Affiliation:
    name: str
    ror: str | None


@dataclass(frozen=True)
class Contributor:
    name: str
    organization: bool
    roles: tuple[str, ...]
    orcid: str | None
    ror: str | None
    url: str | None
    email: str | None
    affiliations: tuple[Affiliation, ...]
    in_citation: bool
    award: str | None


def _ror(value: object) -> str | None:
    text = str(value or "")
    return text if text.startswith("https://ror.org/") else None


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _named(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in _dicts(metadata.get("contributor")) if c.get("name")]


def _contributor(c: dict[str, Any]) -> Contributor:
    organization = c.get("schemaKey") == "Organization"
    return Contributor(
        name=str(c["name"]),
        organization=organization,
        roles=tuple(label(r) for r in _strings(c.get("roleName"))),
        orcid=None if organization else orcid_of(c),
        ror=_ror(c.get("identifier")) if organization else None,
        url=str(c["url"]) if c.get("url") else None,
        email=str(c["email"]) if c.get("email") else None,
        affiliations=tuple(
            Affiliation(str(a["name"]), _ror(a.get("identifier")))
            for a in _dicts(c.get("affiliation"))
            if a.get("name")
        ),
        in_citation=in_citation(c),
        award=str(c["awardNumber"]) if c.get("awardNumber") else None,
    )


def contributors(metadata: dict[str, Any]) -> list[Contributor]:
    return [_contributor(c) for c in _named(metadata)]


def funders(metadata: dict[str, Any]) -> list[Contributor]:
    """Funding as DANDI records it: contributors with the Funder role and their award."""
    return [_contributor(c) for c in _named(metadata) if FUNDER in _strings(c.get("roleName"))]


@dataclass(frozen=True)
class License:
    spdx: str
    url: str


def licenses(metadata: dict[str, Any]) -> list[License]:
    found = []
    for value in _strings(metadata.get("license")):
        spdx = spdx_id(value)
        if spdx:
            found.append(License(spdx, f"https://spdx.org/licenses/{spdx}.html"))
    return found


@dataclass(frozen=True)
class Related:
    name: str
    url: str | None
    identifier: str | None
    relation: str
    kind: str


def related(metadata: dict[str, Any]) -> list[Related]:
    found = []
    for r in _dicts(metadata.get("relatedResource")):
        url = str(r["url"]) if r.get("url") else None
        identifier = str(r["identifier"]) if r.get("identifier") else None
        if url is None and identifier and identifier.lower().startswith("doi:"):
            url = f"https://doi.org/{identifier[4:]}"
        name = str(r.get("name") or url or identifier or "")
        if name:
            found.append(
                Related(
                    name=name,
                    url=url,
                    identifier=identifier,
                    relation=label(r.get("relation") or ""),
                    kind=label(r.get("resourceType") or ""),
                )
            )
    return found


@dataclass(frozen=True)
class Access:
    status: str  # "Open access", "Embargoed access"
    open: bool
    embargoed_until: str | None


def access(metadata: dict[str, Any]) -> Access:
    entries = _dicts(metadata.get("access"))
    first = entries[0] if entries else {"status": OPEN_ACCESS}
    status = str(first.get("status") or OPEN_ACCESS)
    until = first.get("embargoedUntil")
    return Access(label(status), status == OPEN_ACCESS, str(until) if until else None)


def names(value: object) -> list[str]:
    """The names of a list of schema objects (species, approaches, ...) or strings."""
    if not isinstance(value, list):
        return []
    found = [str(v.get("name") or "") if isinstance(v, dict) else str(v) for v in value]
    return [n for n in found if n]


@dataclass(frozen=True)
class Summary:
    files: int | None
    bytes: int | None
    subjects: int | None
    species: list[str]
    approaches: list[str]
    techniques: list[str]
    variables: list[str]
    standards: list[str]


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def summary(metadata: dict[str, Any]) -> Summary:
    s = metadata.get("assetsSummary")
    s = s if isinstance(s, dict) else {}
    return Summary(
        files=_count(s.get("numberOfFiles")),
        bytes=_count(s.get("numberOfBytes")),
        subjects=_count(s.get("numberOfSubjects")),
        species=names(s.get("species")),
        approaches=names(s.get("approach")),
        techniques=names(s.get("measurementTechnique")),
        variables=names(s.get("variableMeasured")),
        standards=names(s.get("dataStandard")),
    )


def keywords(metadata: dict[str, Any]) -> list[str]:
    value = metadata.get("keywords")
    return [str(k) for k in value if str(k).strip()] if isinstance(value, list) else []


@dataclass(frozen=True)
class Manifest:
    name: str
    url: str
    what: str


_MANIFESTS = (
    ("dandiset.jsonld", "the version's metadata (JSON-LD)"),
    ("dandiset.yaml", "the version's metadata (YAML)"),
    ("assets.jsonld", "every asset's metadata (JSON-LD)"),
    ("assets.yaml", "every asset's metadata (YAML)"),
    ("collection.jsonld", "the asset identifiers (JSON-LD)"),
)


def manifests(metadata: dict[str, Any]) -> list[Manifest]:
    """A published version's manifest files, beside the `assets.yaml` its
    `manifestLocation` names (written to S3 at publish; the API does not serve them)."""
    for location in _strings(metadata.get("manifestLocation")):
        if location.endswith("/assets.yaml"):
            folder = location[: -len("assets.yaml")]
            return [Manifest(name, folder + name, what) for name, what in _MANIFESTS]
    return []
