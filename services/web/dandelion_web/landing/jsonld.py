"""schema.org `Dataset` JSON-LD for a dandiset version, as Google Dataset Search reads it.

The document is built from the same metadata the page shows, so crawlers and people read
the same facts. Google requires `name` and `description` (50 to 5000 characters) and
recommends `creator`, `identifier`, `license`, `url`: a short description is completed with
a sentence naming the dandiset and the archive, a long one cut at a word before 5000.

It goes into the page as `<script type="application/ld+json">`, a data block the browser
never executes (so the CSP's ban on inline script does not apply), but whose end an HTML
parser still finds by the text `</script`: `script_text` writes `<`, `>` and `&` as JSON
escapes, so no value can end the block or open a tag, and the JSON parses back unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from dandelion_web.landing import fields
from dandelion_web.landing.citation import Author, Citable

DESCRIPTION_MIN = 50
DESCRIPTION_MAX = 5000


@dataclass(frozen=True)
class Links:
    """Where the version lives: its landing page and its API documents."""

    page: str
    catalog_name: str
    catalog_url: str
    assets: str  # the API's asset list of this version (JSON)


def description_for_search(description: str, *, name: str, identifier: str, archive: str) -> str:
    """`description` within Google's 50..5000 characters."""
    text = description.strip()
    if len(text) < DESCRIPTION_MIN:
        about = f"{name} ({identifier}) is a dataset of neurophysiology data in the {archive}."
        text = f"{text} {about}".strip() if text else about
        if len(text) < DESCRIPTION_MIN:
            text += " It can be browsed, cited and downloaded there."
    if len(text) > DESCRIPTION_MAX:
        cut = text[: DESCRIPTION_MAX - 1]
        head, _, _ = cut.rpartition(" ")
        text = (head if len(head) > DESCRIPTION_MAX // 2 else cut) + "…"
    return text


def _person_or_org(author: Author) -> dict[str, Any]:
    if author.organization:
        return {"@type": "Organization", "name": author.family}
    person: dict[str, Any] = {"@type": "Person", "name": author.name}
    if author.given:
        person |= {"givenName": author.given, "familyName": author.family}
    if author.orcid:
        person["sameAs"] = f"https://orcid.org/{author.orcid}"
    if author.affiliations:
        person["affiliation"] = [{"@type": "Organization", "name": a} for a in author.affiliations]
    return person


def _funder(funder: fields.Contributor) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "@type": "Person" if not funder.organization and funder.orcid else "Organization",
        "name": funder.name,
    }
    if funder.ror:
        entry["sameAs"] = funder.ror
    return entry


def dataset(
    metadata: dict[str, Any], work: Citable, links: Links, *, modified: str | None
) -> dict[str, Any]:
    """The schema.org Dataset of one version."""
    doi_url = f"https://doi.org/{work.doi}" if work.doi else None
    document: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": doi_url or links.page,
        "name": work.title or work.identifier,
        "description": description_for_search(
            str(metadata.get("description") or ""),
            name=work.title or work.identifier,
            identifier=work.identifier,
            archive=work.publisher,
        ),
        "identifier": doi_url or work.identifier,
        "url": links.page,
        "version": work.version,
        "isAccessibleForFree": fields.access(metadata).open,
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": links.catalog_name,
            "url": links.catalog_url,
        },
        "publisher": {"@type": "Organization", "name": work.publisher},
        "distribution": [
            {
                "@type": "DataDownload",
                "contentUrl": links.assets,
                "encodingFormat": "application/json",
            }
        ],
    }
    licenses = fields.licenses(metadata)
    if licenses:
        document["license"] = licenses[0].url if len(licenses) == 1 else [x.url for x in licenses]
    if work.authors:
        document["creator"] = [_person_or_org(a) for a in work.authors]
    if work.keywords:
        document["keywords"] = list(work.keywords)
    if modified:
        document["dateModified"] = modified
    if metadata.get("datePublished"):
        document["datePublished"] = str(metadata["datePublished"])
    summary = fields.summary(metadata)
    if summary.techniques:
        document["measurementTechnique"] = summary.techniques
    if summary.variables:
        document["variableMeasured"] = summary.variables
    funders = fields.funders(metadata)
    if funders:
        document["funder"] = [_funder(f) for f in funders]
    if metadata.get("citation"):
        document["creditText"] = str(metadata["citation"])
    for manifest in fields.manifests(metadata):
        if manifest.name == "assets.jsonld":
            document["distribution"].append(
                {
                    "@type": "DataDownload",
                    "contentUrl": manifest.url,
                    "encodingFormat": "application/ld+json",
                }
            )
    return document


_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_text(document: dict[str, Any]) -> Markup:
    """JSON safe inside `<script type="application/ld+json">`: no `<`, `>` or `&` left
    (inside JSON they occur only in strings, where the escapes mean the same characters)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _SCRIPT_ESCAPES.items():
        text = text.replace(raw, escaped)
    return Markup(text)  # noqa: S704 - every character that could end the block is escaped
