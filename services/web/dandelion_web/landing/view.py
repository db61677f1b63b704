"""The landing page's context, built from the API's three answers for a version: the
dandiset (its newest published version), the version's info (status, validation errors and
the metadata document) and the version list.

Links a visitor follows to the API use the API's public URL (`api.public_url`), never the
address the web service itself uses inside a cluster (`web.api_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dandelion_common.settings import Settings
from dandelion_web.landing import fields, jsonld, meta
from dandelion_web.landing.citation import all_formats, citable

# Errors listed on a draft's page; the counts are of all the API reports.
ERRORS_SHOWN = 20


@dataclass(frozen=True)
class Validation:
    status: str
    version_errors: list[dict[str, Any]]
    asset_errors: list[dict[str, Any]]

    @property
    def version_error_count(self) -> int:
        return len(self.version_errors)

    @property
    def asset_error_count(self) -> int:
        return len(self.asset_errors)


def _validation(info: dict[str, Any]) -> Validation:
    def listed(key: str) -> list[dict[str, Any]]:
        value = info.get(key)
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []

    return Validation(
        status=str(info.get("status") or ""),
        version_errors=listed("version_validation_errors"),
        asset_errors=listed("asset_validation_errors"),
    )


def page_url(settings: Settings, identifier: str, version: str) -> str:
    return f"{settings.instance.web_url}/dandiset/{identifier}/{version}"


def context(
    settings: Settings,
    *,
    identifier: str,
    version: str,
    dandiset: dict[str, Any],
    info: dict[str, Any],
    versions: dict[str, Any],
) -> dict[str, Any]:
    """Everything landing.html shows."""
    metadata: dict[str, Any] = info.get("metadata") or {}
    url = page_url(settings, identifier, version)
    api = f"{settings.api.api_url}/dandisets/{identifier}"
    name = str(metadata.get("name") or info.get("name") or f"Dandiset {identifier}")
    archive = f"{settings.instance.name} Archive"
    work = citable({**metadata, "name": name}, publisher=archive, url=url)
    newest = (dandiset.get("most_recent_published_version") or {}).get("version")
    links = jsonld.Links(
        page=url,
        catalog_name=settings.instance.name,
        catalog_url=settings.instance.web_url,
        assets=f"{api}/versions/{version}/assets/",
    )
    description = str(metadata.get("description") or "")
    return {
        "identifier": identifier,
        "version": version,
        "name": name,
        "display_identifier": str(metadata.get("identifier") or identifier),
        "description": description,
        "metadata": metadata,
        "info": info,
        "dandiset": dandiset,
        "is_draft": version == "draft",
        "canonical": url,
        "newest": newest,
        "outdated": version != "draft" and newest is not None and newest != version,
        "versions": versions.get("results") or [],
        "more_versions": max(
            0, int(versions.get("count") or 0) - len(versions.get("results") or [])
        ),
        "doi": work.doi,
        "licenses": fields.licenses(metadata),
        "access": fields.access(metadata),
        "contributors": fields.contributors(metadata),
        "funders": fields.funders(metadata),
        "related": fields.related(metadata),
        "keywords": fields.keywords(metadata),
        "summary": fields.summary(metadata),
        "manifests": fields.manifests(metadata),
        "validation": _validation(info),
        "errors_shown": ERRORS_SHOWN,
        "metadata_url": f"{api}/versions/{version}/",
        "assets_url": links.assets,
        "download_command": f"dandi download {url}",
        "citation_text": str(metadata.get("citation") or ""),
        "citations": all_formats(work),
        "jsonld": jsonld.script_text(
            jsonld.dataset(metadata, work, links, modified=info.get("modified"))
        ),
        "meta_tags": [
            *meta.citation_tags(work),
            *meta.opengraph_tags(
                work, description=description, url=url, site=settings.instance.name
            ),
        ],
    }
