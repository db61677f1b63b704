"""Version metadata as DANDI serves it: the stored document plus computed keys.

The draft stores only what users wrote; the computed keys are added when it is read, so they
always match the dandiset (name, access, counts). Published versions are stored complete.
"""

from __future__ import annotations

from typing import Any

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import Dandiset, Version
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings

COMPUTED_KEYS = frozenset(
    {
        "name",
        "identifier",
        "version",
        "id",
        "url",
        "assetsSummary",
        "citation",
        "doi",
        "dateCreated",
        "datePublished",
        "publishedBy",
        "manifestLocation",
        "releaseNotes",
        "@context",
        "repository",
    }
)


def context_url(schema_version: str) -> str:
    return f"https://raw.githubusercontent.com/dandi/schema/master/releases/{schema_version}/context.json"


def dandiset_identifier(settings: Settings, dandiset_id: int) -> str:
    return f"{settings.instance.name}:{dandiset_id:06}"


def strip_computed(metadata: dict[str, Any]) -> dict[str, Any]:
    """What a client may set: computed keys removed, access reduced to what DANDI keeps."""
    kept = {k: v for k, v in metadata.items() if k not in COMPUTED_KEYS}
    if isinstance(kept.get("access"), list) and kept["access"]:
        first = {k: v for k, v in kept["access"][0].items() if k not in ("schemaKey", "status")}
        kept["access"] = [first, *kept["access"][1:]]
    return kept


def contact_person(metadata: dict[str, Any]) -> str:
    """The first contributor with the ContactPerson role, or "" (DANDI's `contact_person`)."""
    for contributor in metadata.get("contributor") or []:
        if isinstance(contributor, dict) and "dcite:ContactPerson" in (
            contributor.get("roleName") or []
        ):
            return str(contributor.get("name", ""))
    return ""


def access(dandiset: Dandiset) -> list[dict[str, Any]]:
    embargoed = dandiset.embargo_status is not EmbargoStatus.OPEN
    entry: dict[str, Any] = {
        "schemaKey": "AccessRequirements",
        "status": "dandi:EmbargoedAccess" if embargoed else "dandi:OpenAccess",
    }
    if embargoed and dandiset.embargo_end_date:
        entry["embargoedUntil"] = dandiset.embargo_end_date.isoformat()
    return [entry]


def _citation(metadata: dict[str, Any], name: str, version: str, url: str, year: int) -> str:
    authors = "; ".join(
        str(c.get("name", ""))
        for c in metadata.get("contributor") or []
        if isinstance(c, dict) and c.get("includeInCitation")
    )
    doi = metadata.get("doi")
    link = f"https://doi.org/{doi}" if doi else url
    return f"{authors} ({year}) {name} (Version {version}) [Data set]. DANDI Archive. {link}"


def full_metadata(settings: Settings, dandiset: Dandiset, version: Version) -> dict[str, Any]:
    """The document `GET .../versions/{v}/` returns."""
    if version.version != "draft":
        return version.metadata_
    identifier = dandiset_identifier(settings, dandiset.id)
    url = f"{settings.instance.web_url}/dandiset/{dandiset.id:06}/{version.version}"
    metadata = dict(version.metadata_)
    stored_access = metadata.get("access") or [{}]
    first_access = {**stored_access[0], **access(dandiset)[0]}
    metadata.update(
        {
            "@context": context_url(str(metadata.get("schemaVersion", SCHEMA_VERSION))),
            "schemaKey": "Dandiset",
            "name": version.name,
            "identifier": identifier,
            "version": version.version,
            "id": f"{identifier}/{version.version}",
            "url": url,
            "repository": settings.instance.web_url,
            "dateCreated": dandiset.created.isoformat(),
            "access": [first_access, *stored_access[1:]],
            "manifestLocation": [
                f"{settings.api.api_url}/dandisets/{dandiset.id:06}/versions/draft/assets/"
            ],
            "assetsSummary": metadata.get("assetsSummary")
            or {"schemaKey": "AssetsSummary", "numberOfBytes": 0, "numberOfFiles": 0},
        }
    )
    metadata["citation"] = _citation(
        metadata, version.name, version.version, url, dandiset.created.year
    )
    return metadata
