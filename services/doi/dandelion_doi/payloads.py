"""DOI strings and DataCite attributes for a dandiset's concept DOI and its version DOIs.

Pure functions on metadata documents. Published metadata goes through dandischema's own
DataCite conversion (`to_datacite`), as on DANDI; only a draft dandiset's concept DOI, which
`to_datacite` cannot convert (it needs `datePublished`), gets a minimal hand-built payload.
Anything that will become findable is checked with dandischema's `validate_datacite` first,
so DataCite never sees a findable payload we could have known was wrong.

dandischema reads the instance configuration when `dandischema.models` is first imported, so
dandischema is imported inside the functions, after the worker has configured it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from dandelion_doi.exceptions import PayloadInvalid

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
RESOURCE_TYPES = {"resourceType": "Neural Data", "resourceTypeGeneral": "Dataset"}
# DataCite's PUT is a partial update: a list left out keeps its old value. Every full payload
# names these, empty if need be, so a keyword or funder removed in a new version disappears.
LIST_ATTRIBUTES = (
    "alternateIdentifiers",
    "contributors",
    "descriptions",
    "fundingReferences",
    "relatedIdentifiers",
    "rightsList",
    "subjects",
)
_PERSON_NAME = re.compile(r"^([\w\s\-\.']+),\s+([\w\s\-\.']+)$")  # dandischema's "Last, First"


def concept_doi(prefix: str, instance_name: str, dandiset_id: int) -> str:
    """The dandiset's DOI, e.g. ``10.80507/dandelion.000007``."""
    return f"{prefix}/{instance_name.lower()}.{dandiset_id:06d}"


def version_doi(prefix: str, instance_name: str, dandiset_id: int, version: str) -> str:
    """A published version's DOI, e.g. ``10.80507/dandelion.000007/0.240101.1200``."""
    return f"{concept_doi(prefix, instance_name, dandiset_id)}/{version}"


def version_attributes(
    published_metadata: dict[str, Any], *, concept_doi: str | None, findable: bool
) -> dict[str, Any]:
    """A published version's DataCite attributes, linked to its dandiset's concept DOI.

    `findable` adds the ``publish`` event and validates the result.
    """
    attributes = _converted(published_metadata, findable=findable)
    if not attributes.get("doi"):
        raise PayloadInvalid("the published metadata has no doi (is a DOI prefix configured?)")
    if concept_doi:
        _relate(attributes, [concept_doi], "IsVersionOf")
    return _checked(attributes, findable=findable)


def concept_attributes(
    metadata: dict[str, Any],
    *,
    doi: str,
    url: str,
    findable: bool,
    version_dois: Sequence[str] = (),
) -> dict[str, Any]:
    """The concept DOI's attributes, pointing at the dandiset's landing page `url`.

    From a draft's metadata (no ``datePublished``): a minimal draft payload. From the newest
    published version's metadata: that version's full payload under the concept's `doi` and
    `url`, with ``HasVersion`` links to it and to `version_dois`. Only the latter can be
    `findable`.
    """
    if metadata.get("datePublished"):
        attributes = _converted(metadata, findable=findable)
        newest = attributes.pop("doi")
        attributes.pop("version", None)  # a concept DOI stands for every version
        attributes.update(
            doi=doi, url=url, alternateIdentifiers=_concept_identifiers(metadata, url)
        )
        _relate(attributes, [newest, *version_dois], "HasVersion")
    elif findable:
        raise PayloadInvalid(
            f"{doi} cannot become findable from draft metadata: it needs a published version"
        )
    else:
        attributes = _draft_attributes(metadata, doi=doi, url=url)
    return _checked(attributes, findable=findable)


def _converted(metadata: dict[str, Any], *, findable: bool) -> dict[str, Any]:
    from dandischema.datacite import to_datacite

    try:
        document = to_datacite(metadata, publish=findable)
    except (ValueError, NotImplementedError) as exc:  # pydantic's ValidationError included
        raise PayloadInvalid(f"metadata cannot be converted for DataCite: {exc}") from exc
    attributes: dict[str, Any] = document["data"]["attributes"]
    for name in LIST_ATTRIBUTES:
        attributes.setdefault(name, [])
    return attributes


def _concept_identifiers(metadata: dict[str, Any], url: str) -> list[dict[str, str]]:
    """The landing page, and identifiers.org's link for the dandiset ("DANDI:000027")."""
    urls = [url]
    if metadata.get("identifier"):
        urls.insert(0, f"https://identifiers.org/{metadata['identifier']}")
    return [{"alternateIdentifier": u, "alternateIdentifierType": "URL"} for u in urls]


def _draft_attributes(metadata: dict[str, Any], *, doi: str, url: str) -> dict[str, Any]:
    """What a draft concept DOI shows: enough to recognise the dandiset, nothing required."""
    attributes: dict[str, Any] = {
        "doi": doi,
        "url": url,
        "titles": [{"title": metadata["name"]}] if metadata.get("name") else [],
        "descriptions": _descriptions(metadata.get("description")),
        "creators": _creators(metadata.get("contributor")),
        "publisher": _publisher(),
        "types": dict(RESOURCE_TYPES),
        "schemaVersion": SCHEMA_VERSION,
    }
    year = _year(metadata.get("dateCreated"))
    if year:
        attributes["publicationYear"] = year
    return attributes


def _descriptions(description: object) -> list[dict[str, str]]:
    if isinstance(description, str) and description:
        return [{"description": description, "descriptionType": "Abstract"}]
    return []


def _creators(contributors: object) -> list[dict[str, Any]]:
    """dandischema's rule: the contributors with the Author role, else the first contributor."""
    named = [
        c for c in (contributors if isinstance(contributors, list) else [])
        if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"]
    ]  # fmt: skip
    authors = [c for c in named if "dcite:Author" in (c.get("roleName") or [])]
    return [_creator(c) for c in authors or named[:1]]


def _creator(contributor: dict[str, Any]) -> dict[str, Any]:
    name: str = contributor["name"]
    if contributor.get("schemaKey") == "Organization":
        return {"name": name, "nameType": "Organizational"}
    creator: dict[str, Any] = {"name": name, "nameType": "Personal"}
    parts = _PERSON_NAME.match(name)
    if parts:
        creator["familyName"], creator["givenName"] = parts.groups()
    if contributor.get("identifier"):  # an ORCID, as dandischema stores it
        creator["nameIdentifiers"] = [
            {"nameIdentifier": f"https://orcid.org/{contributor['identifier']}",
             "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org/"}
        ]  # fmt: skip
    return creator


def _publisher() -> dict[str, str]:
    """The publisher exactly as `to_datacite` writes it, so promotion changes nothing here."""
    from dandischema.conf import get_instance_config

    config = get_instance_config()
    publisher = {"name": f"{config.instance_name} Archive", "lang": "en"}
    if config.instance_identifier:
        resolver = "https://scicrunch.org/resolver/"
        publisher |= {
            "schemeUri": resolver,
            "publisherIdentifier": f"{resolver}{config.instance_identifier}",
            "publisherIdentifierScheme": "RRID",
        }
    return publisher


def _year(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(datetime.fromisoformat(value).year)
    except ValueError:
        return None


def _relate(attributes: dict[str, Any], dois: Iterable[str | None], relation: str) -> None:
    related: list[dict[str, str]] = attributes.setdefault("relatedIdentifiers", [])
    known = {(r.get("relatedIdentifier", "").lower(), r.get("relationType")) for r in related}
    for doi in dois:
        if doi and (doi.lower(), relation) not in known:
            known.add((doi.lower(), relation))
            related.append(
                {"relatedIdentifier": doi, "relatedIdentifierType": "DOI", "relationType": relation}
            )


def _checked(attributes: dict[str, Any], *, findable: bool) -> dict[str, Any]:
    """Raise `PayloadInvalid` unless DataCite would accept `attributes` as findable."""
    if not findable:
        return attributes
    from dandischema.datacite import validate_datacite
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]  # no stubs

    if not attributes.get("url"):
        raise PayloadInvalid(f"{attributes.get('doi')}: a findable DOI needs a url")
    try:
        validate_datacite({"data": {"attributes": attributes}})
    except ValidationError as exc:
        where = ".".join(map(str, exc.absolute_path)) or "(top level)"
        raise PayloadInvalid(f"{attributes.get('doi')}: {where}: {exc.message}") from exc
    return attributes
