"""Archive statistics, metadata JSON Schemas, the asset audit feed and blob lookup by digest."""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL

from dandelion_api.meta import repository
from dandelion_api.meta.schemas import (
    SCHEMA_MODELS,
    ApplicationStats,
    AssetAuditEvent,
    AssetAuditEventPage,
    AuditEventQuery,
    BlobInfo,
    Digest,
)
from dandelion_api.pagination import MAX_PAGE_SIZE
from dandelion_common.db.models import AuditRecord, User
from dandelion_common.errors import BadRequest, FieldErrors, NotFound
from dandelion_common.schema import SCHEMA_VERSION

_DIGEST_COLUMNS: dict[str, Literal["etag", "sha256"]] = {
    "dandi:dandi-etag": "etag",
    "dandi:sha2-256": "sha256",
}


async def application_stats(session: AsyncSession) -> ApplicationStats:
    """Computed live: one statement, cheaper than DANDI's 6-hourly snapshot table to keep."""
    return ApplicationStats(**asdict(await repository.application_stats(session)))


def available_schemas() -> list[str]:
    return list(SCHEMA_MODELS)


def schema_document(model: str | None, version: str) -> bytes:
    """The model's JSON Schema as JSON; DRF checks the fields before the version."""
    if not model:
        raise FieldErrors({"model": ["This field is required."]})
    if model not in SCHEMA_MODELS:
        raise FieldErrors({"model": [f'"{model}" is not a valid choice.']})
    if version not in {SCHEMA_VERSION, "latest"}:
        raise BadRequest(
            f"Invalid schema version {version}. Server schema version is {SCHEMA_VERSION}"
        )
    return _rendered_schema(model)


@functools.cache
def _rendered_schema(model: str) -> bytes:
    """Generating a schema takes a large fraction of a second, and it only changes on restart."""
    # Imported here: dandischema fixes the instance configuration (identifier patterns,
    # licenses) when `dandischema.models` is first imported, which must follow startup.
    from dandischema import models
    from dandischema.utils import TransitionalGenerateJsonSchema

    model_class: type[BaseModel] = getattr(models, model)
    schema = model_class.model_json_schema(schema_generator=TransitionalGenerateJsonSchema)
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Cursor:
    """A position in the (timestamp, id) order and the direction to read from it."""

    backwards: bool
    timestamp: datetime
    id: int

    def encode(self) -> str:
        raw = f"{'p' if self.backwards else 'n'}|{self.timestamp.isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> _Cursor:
        try:
            direction, stamp, record_id = base64.urlsafe_b64decode(token).decode().split("|")
            cursor = cls(direction == "p", datetime.fromisoformat(stamp), int(record_id))
        except ValueError:  # also bad base64 and bad UTF-8
            raise NotFound("Invalid cursor") from None
        if direction not in {"n", "p"} or cursor.timestamp.tzinfo is None:
            raise NotFound("Invalid cursor")
        return cursor


async def asset_audit_events(
    session: AsyncSession, *, query: AuditEventQuery, url: URL
) -> AssetAuditEventPage:
    """One page of asset audit events; links are `url` with only `cursor` replaced."""
    cursor = _Cursor.decode(query.cursor) if query.cursor else None
    page_size = min(query.page_size, MAX_PAGE_SIZE)  # DRF clamps rather than refuses
    backwards = cursor is not None and cursor.backwards
    records = list(
        await repository.asset_audit_records(
            session,
            before=query.before,
            after=query.after,
            position=(cursor.timestamp, cursor.id) if cursor else None,
            # Reading back through a newest-first listing walks forward in time, and so on.
            ascending=query.reverse_order == backwards,
            # One extra row tells whether another page follows in the reading direction.
            limit=page_size + 1,
        )
    )
    more = len(records) > page_size
    records = records[:page_size]
    if backwards:
        records.reverse()
    # Coming from a cursor, the page it was taken from lies on the other side.
    has_next = (not backwards and more) or (backwards and bool(records))
    has_previous = (backwards and more) or (cursor is not None and not backwards and bool(records))
    return AssetAuditEventPage(
        next=_link(url, records[-1], backwards=False) if has_next else None,
        previous=_link(url, records[0], backwards=True) if has_previous else None,
        results=[_audit_event(record) for record in records],
    )


def _link(url: URL, record: AuditRecord, *, backwards: bool) -> str:
    token = _Cursor(backwards, record.timestamp, record.id).encode()
    return str(url.include_query_params(cursor=token))


def _audit_event(record: AuditRecord) -> AssetAuditEvent:
    return AssetAuditEvent(
        id=record.id,
        dandiset_id=record.dandiset_id,
        timestamp=record.timestamp,
        record_type=record.record_type,
        # The full asset metadata makes events huge; DANDI leaves it out of the feed too.
        details={key: value for key, value in record.details.items() if key != "metadata"},
    )


async def blob_by_digest(session: AsyncSession, *, digest: Digest, user: User | None) -> BlobInfo:
    """The blob with this digest; an embargoed one only for admins and owners of its dandisets."""
    by = _DIGEST_COLUMNS.get(digest.algorithm)
    if by is None:
        supported = ", ".join(_DIGEST_COLUMNS)
        raise BadRequest(f"Unsupported Digest Algorithm. Supported: {supported}")
    blob = await repository.find_blob(
        session,
        by=by,
        value=digest.value,
        include_embargoed=user is not None and user.is_admin,
        owner_id=user.id if user is not None else None,
    )
    if blob is None:
        raise NotFound()
    return BlobInfo(blob_id=blob.id, etag=blob.etag, sha256=blob.sha256, size=blob.size)
