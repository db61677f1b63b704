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


class DoiTarget(StrEnum):
    """What DataCite should hold for a DOI: the doi worker moves it there."""

    DRAFT = "draft"  # a concept DOI before the first publish
    FINDABLE = "findable"
    HIDDEN = "hidden"  # registered: resolvable, out of DataCite's search (never deleted)
    DELETED = "deleted"  # only ever reached from draft


class DoiState(StrEnum):
    """What DataCite holds, as last seen by the doi worker."""

    PENDING = "pending"  # not sent yet (or DOI minting is disabled)
    DRAFT = "draft"
    REGISTERED = "registered"
    FINDABLE = "findable"
    DELETED = "deleted"
    FAILED = "failed"  # DataCite refused the request (4xx): `error` says why; not retried


class ZarrStatus(StrEnum):
    PENDING = "Pending"  # files may change; the checksum is unknown
    UPLOADED = "Uploaded"  # finalized: the ingest job is asked for
    INGESTING = "Ingesting"
    COMPLETE = "Complete"  # checksum, count and size describe the files


class MailKind(StrEnum):
    """Why an email is sent (issue 18's sign-up notices)."""

    REGISTRATION_RECEIVED = "registration_received"  # to the user: we have your answers
    APPROVED = "approved"
    REJECTED = "rejected"
    NEW_USER_WAITING = "new_user_waiting"  # to an admin: someone awaits approval
