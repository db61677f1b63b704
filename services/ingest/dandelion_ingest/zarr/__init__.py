"""Zarr ingest: the job (`job`), the snapshot it builds and the draft it updates (`snapshot`),
and DANDI's zarr checksum computed in one streaming pass (`checksum`)."""

from dandelion_ingest.zarr.checksum import Digest, StreamingZarrChecksum, ZarrIngestError
from dandelion_ingest.zarr.job import finish, ingest_zarr, start
from dandelion_ingest.zarr.snapshot import (
    UnversionedZarrBucket,
    check_zarr_bucket_versioned,
    checksum_of,
    delete_unreferenced,
    point_draft_assets,
    record_entries,
)

__all__ = [
    "Digest",
    "StreamingZarrChecksum",
    "UnversionedZarrBucket",
    "ZarrIngestError",
    "check_zarr_bucket_versioned",
    "checksum_of",
    "delete_unreferenced",
    "finish",
    "ingest_zarr",
    "point_draft_assets",
    "record_entries",
    "start",
]
