"""S3 storage behind one package (aiobotocore, and plain aiohttp for fast ranged reads): keys,
multipart uploads, presigned URLs, copies, listings, ranged reads. Any S3 server works;
SeaweedFS runs locally and in tests. Outside this package S3 is reached only by the presigned
URLs it hands out (to clients, and to the NWB readers of the extract and inspect jobs).

`S3Storage` is composed of one part per concern (`objects`, `multipart`, `copies`, `listing`,
`ranges`) over `core`, which holds the clients and maps botocore's errors to ours."""

from dandelion_common.storage.client import S3Storage
from dandelion_common.storage.keys import (
    EMBARGOED_PREFIX,
    blob_key,
    manifest_key,
    object_url,
    zarr_key,
)
from dandelion_common.storage.listing import ListedObject, ObjectVersion
from dandelion_common.storage.multipart import MultipartUploadInfo, complete_multipart_body
from dandelion_common.storage.objects import ObjectInfo

__all__ = [
    "EMBARGOED_PREFIX",
    "ListedObject",
    "MultipartUploadInfo",
    "ObjectInfo",
    "ObjectVersion",
    "S3Storage",
    "blob_key",
    "complete_multipart_body",
    "manifest_key",
    "object_url",
    "zarr_key",
]
