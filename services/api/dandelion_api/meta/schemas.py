"""Wire shapes of the stats, schema, audit and blob-digest routes, with DANDI's field names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from dandelion_api.pagination import DEFAULT_PAGE_SIZE
from dandelion_api.params import IsoDateTime

SCHEMA_MODELS: tuple[str, ...] = ("Dandiset", "Asset", "PublishedDandiset", "PublishedAsset")


class ApplicationStats(BaseModel):
    dandiset_count: int
    published_dandiset_count: int
    user_count: int
    size: int


class AuditEventQuery(BaseModel):
    """Query of `GET /api/audit/events/asset`; both time bounds are inclusive."""

    before: IsoDateTime | None = None
    after: IsoDateTime | None = None
    reverse_order: bool = False
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, description="Page size, at most 1000")
    cursor: str | None = Field(None, description="Opaque position from a `next`/`previous` link")

    @field_validator("before", "after")
    @classmethod
    def _naive_is_utc(cls, value: datetime | None) -> datetime | None:
        # DRF reads a datetime without an offset in the server's time zone, which is UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class AssetAuditEvent(BaseModel):
    id: int
    dandiset_id: int
    timestamp: datetime
    record_type: str
    details: dict[str, Any]


class AssetAuditEventPage(BaseModel):
    """DRF's cursor-pagination envelope: no `count`."""

    next: str | None
    previous: str | None
    results: list[AssetAuditEvent]


class Digest(BaseModel):
    algorithm: str = Field(min_length=1, examples=["dandi:dandi-etag"])
    value: str = Field(min_length=1)


class BlobInfo(BaseModel):
    blob_id: uuid.UUID
    etag: str
    sha256: str | None
    size: int
