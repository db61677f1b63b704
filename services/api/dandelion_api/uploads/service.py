"""The upload protocol: initialize (part plan + presigned URLs), complete, validate."""

from __future__ import annotations

import re
import uuid

from dandischema.digests.dandietag import PartGenerator
from sqlalchemy import Select, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets.access import EMBARGOED, ensure_modifiable, is_owner, readable_dandiset
from dandelion_api.uploads.schemas import (
    BlobOut,
    CompleteRequest,
    CompleteResponse,
    InitializeRequest,
    InitializeResponse,
    PartUrl,
)
from dandelion_common.db.models import AssetBlob, Upload, User
from dandelion_common.errors import Conflict, FieldErrors, NotFound, PermissionDenied
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import COMPUTE_SHA256, EXTRACT_NWB, BlobRef
from dandelion_common.storage import S3Storage, blob_key, complete_multipart_body

DANDI_ETAG = "dandi:dandi-etag"
_ETAG = re.compile(r"^[0-9a-f]{32}-\d{1,5}$")


class BlobExists(Conflict):
    """DANDI's dedup answer: 409 and the existing blob's id in `Location`."""

    def __init__(self, blob_id: uuid.UUID) -> None:
        super().__init__("Blob already exists.", headers={"Location": str(blob_id)})


def _dandiset_id(value: str | int) -> int:
    text = str(value).split(":")[-1]
    if not text.isdigit() or not 0 <= int(text) <= 999_999:
        raise FieldErrors({"dandiset": ["Invalid dandiset identifier."]})
    return int(text)


async def initialize(
    session: AsyncSession, storage: S3Storage, *, user: User, body: InitializeRequest
) -> InitializeResponse:
    if body.digest.algorithm != DANDI_ETAG:
        raise FieldErrors({"non_field_errors": ["Unsupported Digest Type"]})
    if not _ETAG.match(body.digest.value):
        raise FieldErrors({"digest": ["Invalid dandi-etag."]})
    dandiset = await readable_dandiset(session, _dandiset_id(body.dandiset), user)
    if not await is_owner(session, dandiset.id, user):
        raise PermissionDenied("Action not allowed")
    ensure_modifiable(dandiset)
    existing = await session.scalar(_usable_blob(body.digest.value, dandiset.id))
    if existing is not None:
        raise BlobExists(existing)
    try:
        plan = PartGenerator.for_file_size(body.contentSize)
    except (ValueError, AssertionError) as exc:
        raise FieldErrors({"contentSize": [str(exc) or "Unsupported size."]}) from exc
    upload_id = uuid.uuid4()
    embargoed = dandiset.embargo_status in EMBARGOED
    key = blob_key(upload_id, embargoed=embargoed)
    multipart_id = await storage.create_multipart_upload(
        key, tagging="embargoed=true" if embargoed else None
    )
    numbers = [p.number for p in plan]
    urls = storage.presign_upload_parts(key, multipart_id, numbers)
    parts = [
        PartUrl(part_number=p.number, size=p.size, upload_url=url)
        for p, url in zip(plan, urls, strict=True)
    ]
    session.add(
        Upload(
            id=upload_id,
            multipart_upload_id=multipart_id,
            etag=body.digest.value,
            size=body.contentSize,
            dandiset_id=dandiset.id,
            user_id=user.id,
            embargoed=embargoed,
        )
    )
    return InitializeResponse(upload_id=upload_id, parts=parts)


def _usable_blob(etag: str, dandiset_id: int) -> Select[uuid.UUID]:
    """The blob a dedup hit may name: an open one, or one embargoed in this very dandiset.
    Another dandiset's embargoed blob could not join this one (and its id is not ours to
    show), so equal bytes are uploaded again as a blob of this dandiset's own."""
    usable = or_(AssetBlob.embargoed.is_(False), AssetBlob.dandiset_id == dandiset_id)
    return (
        select(AssetBlob.id)
        .where(AssetBlob.etag == etag, usable)
        .order_by(AssetBlob.embargoed, AssetBlob.created)
        .limit(1)
    )


async def _upload(session: AsyncSession, user: User, upload_id: uuid.UUID) -> Upload:
    """The upload; embargoed ones only for owners (others get 404, as DANDI)."""
    upload = await session.scalar(select(Upload).where(Upload.id == upload_id).with_for_update())
    if upload is None or (
        upload.embargoed and not await is_owner(session, upload.dandiset_id, user)
    ):
        raise NotFound("No Upload matches the given query.")
    return upload


async def complete(
    session: AsyncSession,
    storage: S3Storage,
    *,
    user: User,
    upload_id: uuid.UUID,
    body: CompleteRequest,
) -> CompleteResponse:
    upload = await _upload(session, user, upload_id)
    parts = sorted((p.part_number, p.etag) for p in body.parts)
    key = blob_key(upload.id, embargoed=upload.embargoed)
    return CompleteResponse(
        complete_url=await storage.presign_complete(key, upload.multipart_upload_id),
        body=complete_multipart_body(parts),
    )


async def validate(
    session: AsyncSession, storage: S3Storage, *, user: User, upload_id: uuid.UUID
) -> BlobOut:
    upload = await _upload(session, user, upload_id)
    found = await storage.head(blob_key(upload.id, embargoed=upload.embargoed))
    if found is None:
        raise FieldErrors({"non_field_errors": ["Object does not exist."]})
    if found.size != upload.size:
        raise FieldErrors(
            {"non_field_errors": [f"Size {upload.size} does not match actual size {found.size}."]}
        )
    if found.etag != upload.etag:
        raise FieldErrors(
            {"non_field_errors": [f"ETag {upload.etag} does not match actual ETag {found.etag}."]}
        )
    created = await session.scalar(
        insert(AssetBlob)
        .values(
            id=upload.id,
            etag=upload.etag,
            size=upload.size,
            embargoed=upload.embargoed,
            dandiset_id=upload.dandiset_id if upload.embargoed else None,
        )
        .on_conflict_do_nothing()
        .returning(AssetBlob.id)
    )
    if created is None:
        # Another upload of the same bytes won the race; this object is left for GC.
        raise Conflict("An identical blob has already been uploaded.")
    await session.delete(upload)
    enqueue_after_commit(session, COMPUTE_SHA256, BlobRef(blob_id=upload.id))
    enqueue_after_commit(session, EXTRACT_NWB, BlobRef(blob_id=upload.id))
    return BlobOut(blob_id=upload.id, etag=upload.etag, sha256=None, size=upload.size)
