"""Status enums with DANDI's exact wire strings."""

from __future__ import annotations

from enum import StrEnum


class UserStatus(StrEnum):
    INCOMPLETE = "INCOMPLETE"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class EmbargoStatus(StrEnum):
    OPEN = "OPEN"
    EMBARGOED = "EMBARGOED"
    UNEMBARGOING = "UNEMBARGOING"


class VersionStatus(StrEnum):
    PENDING = "Pending"
    VALIDATING = "Validating"
    VALID = "Valid"
    INVALID = "Invalid"
    PUBLISHING = "Publishing"
    PUBLISHED = "Published"


class AssetStatus(StrEnum):
    PENDING = "Pending"
    VALIDATING = "Validating"
    VALID = "Valid"
    INVALID = "Invalid"


class OutboxEntity(StrEnum):
    DANDISET = "dandiset"
    VERSION = "version"
    ASSET = "asset"


class OutboxOperation(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class ExtractStatus(StrEnum):
    EXTRACTED = "extracted"
    FAILED = "failed"  # not a readable NWB file; `error` says why
