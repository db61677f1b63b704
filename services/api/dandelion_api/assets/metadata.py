"""Asset metadata as DANDI serves it: stored metadata plus computed keys."""

from __future__ import annotations

from typing import Any

from dandelion_common.db.models import Asset, AssetBlob
from dandelion_common.metadata import context_url
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key

COMPUTED_KEYS = frozenset(
    {
        "id",
        "access",
        "path",
        "identifier",
        "contentUrl",
        "contentSize",
        "digest",
        "datePublished",
        "publishedBy",
    }
)


def strip_computed(metadata: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in metadata.items() if k not in COMPUTED_KEYS}
    kept["schemaKey"] = "Asset"
    kept.setdefault("schemaVersion", SCHEMA_VERSION)
    return kept


def full_metadata(
    settings: Settings, storage: S3Storage, asset: Asset, blob: AssetBlob
) -> dict[str, Any]:
    """The document `GET .../assets/{id}/` returns."""
    digest = {"dandi:dandi-etag": blob.etag}
    if blob.sha256:
        digest["dandi:sha2-256"] = blob.sha256
    status = "dandi:EmbargoedAccess" if blob.embargoed else "dandi:OpenAccess"
    return {
        **asset.metadata_,
        "id": f"dandiasset:{asset.id}",
        "identifier": str(asset.id),
        "path": asset.path,
        "contentSize": blob.size,
        "contentUrl": [
            f"{settings.api.api_url}/assets/{asset.id}/download/",
            storage.object_url(blob_key(blob.id)),
        ],
        "digest": digest,
        "access": [{"schemaKey": "AccessRequirements", "status": status}],
        "@context": context_url(str(asset.metadata_.get("schemaVersion", SCHEMA_VERSION))),
    }
