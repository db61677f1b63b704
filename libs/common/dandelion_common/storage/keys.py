"""Where things live in the buckets: blob, zarr and manifest keys, and unsigned object URLs.

Pure functions, no S3 calls: the database and the metadata name objects with them too."""

from __future__ import annotations

import uuid

from dandelion_common.settings import S3Settings

EMBARGOED_PREFIX = "embargoed/"
ZARR_PREFIX = "zarr/"


def blob_key(blob_id: uuid.UUID | str, *, embargoed: bool = False) -> str:
    """`blobs/abc/def/abcdef...`: three levels spread keys over S3 prefixes.

    Embargoed blobs live under `embargoed/`, outside the prefix that is readable without a
    signature (as DANDI's public bucket is for open data); unembargo moves them.
    """
    s = str(blob_id)
    key = f"blobs/{s[0:3]}/{s[3:6]}/{s}"
    return EMBARGOED_PREFIX + key if embargoed else key


def zarr_key(zarr_id: uuid.UUID | str, path: str = "") -> str:
    """`zarr/{zarr_id}/{path}` in the zarr bucket (DANDI's layout)."""
    return f"{ZARR_PREFIX}{zarr_id}/{path}"


def manifest_key(dandiset_id: int, version: str, name: str) -> str:
    """`dandisets/000123/0.240101.1200/assets.yaml`: a published version's manifests."""
    return f"dandisets/{dandiset_id:06}/{version}/{name}"


def bucket_url(settings: S3Settings, bucket: str, key: str) -> str:
    """The unsigned URL of `key` in `bucket` on the public endpoint."""
    return f"{settings.presign_endpoint_url.rstrip('/')}/{bucket}/{key}"


def object_url(settings: S3Settings, key: str) -> str:
    """The unsigned URL of an object in the main bucket (as DANDI lists in contentUrl)."""
    return bucket_url(settings, settings.bucket, key)
