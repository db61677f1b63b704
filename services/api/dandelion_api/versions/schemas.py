"""Version shapes, with DANDI's field names and order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from dandelion_api.dandisets.schemas import DandisetShort
from dandelion_common.db.enums import VersionStatus


class VersionOut(BaseModel):
    """DANDI's VersionSerializer."""

    version: str
    name: str
    asset_count: int
    active_uploads: int
    size: int
    status: VersionStatus
    created: datetime
    modified: datetime
    dandiset: DandisetShort
    release_notes: str


class AssetValidationError(BaseModel):
    field: str
    message: str
    path: str


class ValidationError(BaseModel):
    field: str
    message: str


class VersionInfo(VersionOut):
    """DANDI's VersionDetailSerializer (`.../versions/{v}/info/`)."""

    asset_validation_errors: list[AssetValidationError]
    version_validation_errors: list[ValidationError]
    metadata: dict[str, Any]
    contact_person: str


class VersionUpdate(BaseModel):
    name: str = Field(max_length=300)
    metadata: dict[str, Any]


class PublishBody(BaseModel):
    release_notes: str | None = Field(None, max_length=5000)
