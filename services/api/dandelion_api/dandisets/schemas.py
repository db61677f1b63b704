"""Dandiset shapes, with DANDI's field names and order."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from dandelion_common.db.enums import EmbargoStatus, VersionStatus


class VersionSummary(BaseModel):
    """A version inside a dandiset list item."""

    version: str
    name: str
    asset_count: int
    size: int
    status: VersionStatus
    created: datetime
    modified: datetime


class VersionDetail(BaseModel):
    """A version inside a dandiset detail (DANDI's VersionSerializer without `dandiset`)."""

    version: str
    name: str
    asset_count: int
    active_uploads: int
    size: int
    status: VersionStatus
    created: datetime
    modified: datetime
    release_notes: str = ""


class DandisetShort(BaseModel):
    identifier: str
    created: datetime
    modified: datetime
    contact_person: str
    embargo_status: EmbargoStatus
    star_count: int
    is_starred: bool


class DandisetListItem(DandisetShort):
    most_recent_published_version: VersionSummary | None
    draft_version: VersionSummary | None


class DandisetDetail(DandisetShort):
    most_recent_published_version: VersionDetail | None
    draft_version: VersionDetail | None


class DandisetCreate(BaseModel):
    name: str = Field(max_length=300, description="Title of the dandiset")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Dandiset metadata")


class EmbargoOptions(BaseModel):
    embargo: bool = False
    funding_source: str | None = None
    award_number: str | None = None
    embargo_end_date: date | None = None


class Owner(BaseModel):
    username: str
    name: str
    email: str | None


class OwnerRef(BaseModel):
    username: str


class StarCount(BaseModel):
    count: int


class Tombstone(BaseModel):
    """A deleted dandiset (beyond DANDI): its identifier, name and deletion time."""

    identifier: str = Field(description="Six digits, e.g. 000123")
    name: str | None = Field(description="The draft's name; null if it was embargoed")
    deleted: datetime


class PendingUpload(BaseModel):
    created: datetime
    blob: str
    upload_id: str
    etag: str
    size: int
