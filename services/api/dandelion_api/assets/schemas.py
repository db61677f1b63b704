"""Asset shapes, with DANDI's field names and order."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from dandelion_common.db.enums import AssetStatus


class AssetOut(BaseModel):
    """DANDI's AssetSerializer (`metadata` only when asked for)."""

    model_config = ConfigDict(json_schema_extra={"description": "An asset of a version"})

    asset_id: uuid.UUID
    blob: uuid.UUID | None
    zarr: uuid.UUID | None = None
    path: str
    size: int
    created: datetime
    modified: datetime
    metadata: dict[str, Any] | None = None


class AssetCreate(BaseModel):
    metadata: dict[str, Any]
    blob_id: uuid.UUID | None = None
    zarr_id: uuid.UUID | None = None


class PathAsset(BaseModel):
    asset_id: uuid.UUID
    url: str
    # Not in DANDI's answer (clients ignore it): a file browser shows when each file changed
    # without one request per file.
    modified: datetime


class PathNode(BaseModel):
    path: str
    version: int
    aggregate_files: int
    aggregate_size: int
    asset: PathAsset | None


class FieldError(BaseModel):
    field: str
    message: str


class Finding(BaseModel):
    """An advisory pynwb or nwbinspector result, in dandi-cli's ValidationResult terms."""

    id: str
    severity: str
    message: str
    location: str = ""
    validator: str
    validator_version: str = ""


class AssetValidation(BaseModel):
    status: AssetStatus
    validation_errors: list[FieldError]
    # Dandelion's addition: advisory NWB findings (they never decide the status, as on DANDI,
    # where the client enforces them). None until inspected, or for files that are not NWB.
    advisory_findings: list[Finding] | None = None
