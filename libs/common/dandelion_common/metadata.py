"""Version metadata as DANDI serves it: the stored document plus computed keys, and its
validation (shared by the api, which serves it, and the ingest worker, which validates it).

The draft stores only what users wrote; the computed keys are added when it is read, so they
always match the dandiset (name, access, counts). Published versions are stored complete.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import Asset, AssetBlob, Dandiset, Version, ZarrSnapshot
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import blob_key, object_url, zarr_key

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


def citation(metadata: dict[str, Any], name: str, version: str, url: str, year: int) -> str:
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
    metadata["citation"] = citation(
        metadata, version.name, version.version, url, dandiset.created.year
    )
    return metadata


_PLACEHOLDER_VERSION = "0.000000.0000"


def publish_activity(settings: Settings, start: datetime, end: datetime) -> dict[str, Any]:
    """The PublishActivity a published version and its newly published assets carry."""
    software = {
        "schemaKey": "Software", "id": uuid.uuid4().urn,
        "identifier": settings.instance.identifier or "RRID:SCR_017571",
        "name": f"{settings.instance.name.capitalize()} API", "version": _version(),
    }  # fmt: skip
    return {
        "schemaKey": "PublishActivity", "id": uuid.uuid4().urn,
        "name": f"{settings.instance.name} publish", "startDate": start.isoformat(),
        "endDate": end.isoformat(), "wasAssociatedWith": [software],
    }  # fmt: skip


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dandelion")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0"


def _with_publish_activity(settings: Settings, document: dict[str, Any]) -> dict[str, Any]:
    """Placeholder publish fields, so validation reports what would block publishing."""
    now = datetime.now(UTC)
    activity = publish_activity(settings, now, now)
    return {**document, "datePublished": now.isoformat(), "publishedBy": activity}


def _as_if_published(
    settings: Settings, dandiset_id: int, document: dict[str, Any]
) -> dict[str, Any]:
    """The draft as a published version would be (DANDI validates drafts as PublishedDandiset)."""
    suffix = f"{settings.instance.name.lower()}.{dandiset_id:06}/{_PLACEHOLDER_VERSION}"
    return {
        **_with_publish_activity(settings, document),
        "id": f"{dandiset_identifier(settings, dandiset_id)}/{_PLACEHOLDER_VERSION}",
        "version": _PLACEHOLDER_VERSION,
        "url": f"{settings.instance.web_url}/dandiset/{dandiset_id:06}/{_PLACEHOLDER_VERSION}",
        "doi": f"{settings.doi.prefix}/{suffix}",
        # Assets are validated on their own; an empty draft must not fail on its summary.
        "assetsSummary": {"schemaKey": "AssetsSummary", "numberOfBytes": 1, "numberOfFiles": 1},
    }


def _errors(document: dict[str, Any], schema_key: str) -> list[dict[str, str]]:
    from dandischema.exceptions import JsonschemaValidationError, PydanticValidationError
    from dandischema.metadata import validate

    try:
        validate(document, schema_key=schema_key, json_validation=True)
    except JsonschemaValidationError as exc:
        return [{"field": ".".join(map(str, e.path)), "message": e.message} for e in exc.errors]
    except PydanticValidationError as exc:
        return [
            {"field": ".".join(map(str, e.get("loc", ()))), "message": str(e.get("msg"))}
            for e in exc.errors
        ]
    except ValueError as exc:  # no schemaKey, or a schemaVersion outside the allowed ones
        return [{"field": "", "message": str(exc)}]
    return []


def version_errors(
    settings: Settings, dandiset_id: int, document: dict[str, Any]
) -> list[dict[str, str]]:
    """DANDI's `version_validation_errors` of a draft: [] when it could be published."""
    return _errors(_as_if_published(settings, dandiset_id, document), "PublishedDandiset")


# -- assets --------------------------------------------------------------------------------

ASSET_COMPUTED_KEYS = frozenset(
    {
        "id", "access", "path", "identifier", "contentUrl", "contentSize", "digest",
        "datePublished", "publishedBy",
    }
)  # fmt: skip


def strip_asset_computed(metadata: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in metadata.items() if k not in ASSET_COMPUTED_KEYS}
    kept["schemaKey"] = "Asset"
    kept.setdefault("schemaVersion", SCHEMA_VERSION)
    return kept


def asset_full_metadata(settings: Settings, asset: Asset, blob: AssetBlob) -> dict[str, Any]:
    """The document `GET .../assets/{id}/` returns."""
    digest = {"dandi:dandi-etag": blob.etag}
    if blob.sha256:
        digest["dandi:sha2-256"] = blob.sha256
    status = "dandi:EmbargoedAccess" if blob.embargoed else "dandi:OpenAccess"
    return {
        **asset.metadata_,
        "schemaKey": "Asset",  # clients on dandischema >= 0.14 send "BareAsset"
        "id": f"dandiasset:{asset.id}",
        "identifier": str(asset.id),
        "path": asset.path,
        "contentSize": blob.size,
        "contentUrl": [
            f"{settings.api.api_url}/assets/{asset.id}/download/",
            object_url(settings.s3, blob_key(blob.id, embargoed=blob.embargoed)),
        ],
        "digest": digest,
        "access": [{"schemaKey": "AccessRequirements", "status": status}],
        "@context": context_url(str(asset.metadata_.get("schemaVersion", SCHEMA_VERSION))),
    }


ZARR_FORMAT = "application/x-zarr"


def zarr_asset_full_metadata(
    settings: Settings, asset: Asset, snapshot: ZarrSnapshot | None, *, embargoed: bool
) -> dict[str, Any]:
    """A zarr asset's document: its snapshot's checksum and size (none before the first
    ingest), and the access of its dandiset, which a zarr never leaves."""
    assert asset.zarr_id is not None
    status = "dandi:EmbargoedAccess" if embargoed else "dandi:OpenAccess"
    s3 = settings.s3
    prefix_url = f"{s3.presign_endpoint_url.rstrip('/')}/{s3.zarr_bucket_name}/"
    document = {
        **asset.metadata_,
        "schemaKey": "Asset",
        "id": f"dandiasset:{asset.id}",
        "identifier": str(asset.id),
        "path": asset.path,
        "encodingFormat": ZARR_FORMAT,
        "contentSize": snapshot.size if snapshot is not None else 0,
        "contentUrl": [
            f"{settings.api.api_url}/assets/{asset.id}/download/",
            prefix_url + zarr_key(asset.zarr_id),
        ],
        "access": [{"schemaKey": "AccessRequirements", "status": status}],
        "@context": context_url(str(asset.metadata_.get("schemaVersion", SCHEMA_VERSION))),
    }
    if snapshot is not None:
        document["digest"] = {"dandi:dandi-zarr-checksum": snapshot.checksum}
    return document


def any_asset_full_metadata(
    settings: Settings,
    asset: Asset,
    blob: AssetBlob | None,
    snapshot: ZarrSnapshot | None,
    *,
    zarr_embargoed: bool,
) -> dict[str, Any]:
    """The document of a blob asset (`blob`) or of a zarr asset (`snapshot`, may be None)."""
    if asset.zarr_id is not None:
        return zarr_asset_full_metadata(settings, asset, snapshot, embargoed=zarr_embargoed)
    assert blob is not None  # the blob_or_zarr constraint
    return asset_full_metadata(settings, asset, blob)


def asset_errors(settings: Settings, document: dict[str, Any]) -> list[dict[str, str]]:
    """An asset's validation errors as DANDI reports them: [] when it could be published."""
    return _errors(_with_publish_activity(settings, document), "PublishedAsset")
