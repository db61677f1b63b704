"""Version use cases: list, read, edit the draft, publish it, delete a published version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets import repository as dandisets
from dandelion_api.dandisets.access import (
    ensure_modifiable,
    ensure_owned,
    ensure_readable,
    owned_dandiset,
    owner_flag,
)
from dandelion_api.dandisets.repository import DandisetRecord
from dandelion_api.dandisets.schemas import DandisetShort
from dandelion_api.dandisets.service import dandiset_short, readable_record, version_detail
from dandelion_api.versions.exceptions import (
    DraftAlreadyPublished,
    DraftInvalid,
    DraftPublishing,
    DraftValidating,
    DraftValidationPending,
)
from dandelion_api.versions.schemas import VersionInfo, VersionOut, VersionUpdate
from dandelion_api.versions.validation import request_validation
from dandelion_common import audit
from dandelion_common.db.enums import (
    AssetStatus,
    EmbargoStatus,
    OutboxEntity,
    OutboxOperation,
    VersionStatus,
)
from dandelion_common.db.models import Asset, Dandiset, User, Version, VersionAsset
from dandelion_common.errors import (
    BadRequest,
    Locked,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
)
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import PUBLISH_VERSION, PublishRequest
from dandelion_common.metadata import contact_person, full_metadata, strip_computed
from dandelion_common.outbox import emit
from dandelion_common.settings import Settings

MAX_ASSET_ERRORS = 50


PENDING_MESSAGE = "asset is currently being validated, please wait."


async def get_version(
    session: AsyncSession, *, dandiset_id: int, version: str, lock: bool = False
) -> Version:
    query = select(Version).where(Version.dandiset_id == dandiset_id, Version.version == version)
    if lock:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound("No Version matches the given query.")
    return found


async def readable_version(
    session: AsyncSession, *, dandiset_id: int, version: str, user: User | None
) -> tuple[Dandiset, Version]:
    """The dandiset if the caller may read it, and its version, in one statement: 404 for an
    unknown dandiset, 401/403 for an embargoed one, then 404 for an unknown version."""
    query = (
        select(Dandiset, owner_flag(user), Version)
        .outerjoin(Version, and_(Version.dandiset_id == Dandiset.id, Version.version == version))
        .where(Dandiset.id == dandiset_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("No Dandiset matches the given query.")
    dandiset, owned, found = row
    ensure_readable(dandiset, owned=bool(owned), user=user)
    if found is None:
        raise NotFound("No Version matches the given query.")
    return dandiset, found


def _out(version: Version, short: DandisetShort, active_uploads: int) -> dict[str, Any]:
    """DANDI's VersionSerializer: the version record plus the short dandiset."""
    return {**version_detail(version, active_uploads).model_dump(), "dandiset": short}


async def list_versions(
    session: AsyncSession,
    *,
    dandiset_id: int,
    user: User | None,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[VersionOut], int]:
    record = await readable_record(session, dandiset_id=dandiset_id, user=user)
    order = (
        (Version.created.desc(), Version.id.desc()) if descending else (Version.created, Version.id)
    )
    # The count as a window on the page's rows (an empty page past page 1 is a 404 anyway).
    query = select(Version, func.count().over()).where(Version.dandiset_id == dandiset_id)
    rows = (await session.execute(query.order_by(*order).offset(offset).limit(limit))).all()
    count = int(rows[0][1]) if rows else 0
    short = dandiset_short(record)
    return [VersionOut(**_out(v, short, record.uploads)) for v, _ in rows], count


async def metadata(
    session: AsyncSession, settings: Settings, *, dandiset_id: int, version: str, user: User | None
) -> dict[str, Any]:
    dandiset, found = await readable_version(
        session, dandiset_id=dandiset_id, version=version, user=user
    )
    return full_metadata(settings, dandiset, found)


async def _asset_errors(session: AsyncSession, version: Version) -> list[dict[str, str]]:
    """Up to 50 assets still being validated, then the errors of up to 50 invalid ones, in
    one statement (each half ordered and limited on its own, then told apart by `kind`)."""
    waiting = (
        select(literal(0).label("kind"), literal(0).label("errors_first"), VersionAsset.path,
               Asset.validation_errors)
        .join(Asset, Asset.id == VersionAsset.asset_id)
        .where(VersionAsset.version_id == version.id,
               Asset.status.in_([AssetStatus.PENDING, AssetStatus.VALIDATING]))
        .order_by(VersionAsset.path)
        .limit(MAX_ASSET_ERRORS)
    )  # fmt: skip
    most_errors = -func.jsonb_array_length(Asset.validation_errors)
    invalid = (
        select(literal(1), most_errors, VersionAsset.path, Asset.validation_errors)
        .join(Asset, Asset.id == VersionAsset.asset_id)
        .where(VersionAsset.version_id == version.id, Asset.status == AssetStatus.INVALID)
        .order_by(most_errors, VersionAsset.path)
        .limit(MAX_ASSET_ERRORS)
    )
    both = union_all(waiting, invalid).subquery()
    rows = await session.execute(
        select(both.c.kind, both.c.path, both.c.validation_errors).order_by(
            both.c.kind, both.c.errors_first, both.c.path
        )
    )
    errors: list[dict[str, str]] = []
    for kind, path, found in rows:
        if kind == 0:
            errors.append({"field": "", "message": PENDING_MESSAGE, "path": path})
            continue
        errors += [
            {"field": e.get("field", ""), "message": e.get("message", ""), "path": path}
            for e in found
        ]
    return errors


async def info(
    session: AsyncSession, settings: Settings, *, dandiset_id: int, version: str, user: User | None
) -> VersionInfo:
    record = await readable_record(session, dandiset_id=dandiset_id, user=user)
    found = next((v for v in (record.draft, record.published) if v and v.version == version), None)
    if found is None:  # an older published version
        found = await get_version(session, dandiset_id=dandiset_id, version=version)
    return await _info(session, settings, record, found)


async def _info(
    session: AsyncSession, settings: Settings, record: DandisetRecord, version: Version
) -> VersionInfo:
    document = full_metadata(settings, record.dandiset, version)
    return VersionInfo(
        **_out(version, dandiset_short(record), record.uploads),
        # A published version's assets were all valid when it was published, and it holds
        # no others: only a draft has anything to list.
        asset_validation_errors=await _asset_errors(session, version)
        if version.version == "draft"
        else [],
        version_validation_errors=version.validation_errors,
        metadata=document,
        contact_person=contact_person(document),
    )


async def update_draft(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    dandiset_id: int,
    version: str,
    body: VersionUpdate,
) -> VersionInfo:
    # The dandiset's record with its draft locked, in one statement; a caller who turns out
    # not to own it holds that lock only until its 403 rolls back.
    record = await dandisets.record(session, dandiset_id, user, lock_draft=True)
    if record is None:
        raise NotFound("No Dandiset matches the given query.")
    ensure_owned(owned=record.owned)
    if version != "draft":
        raise MethodNotAllowed("Only draft versions can be modified.")
    ensure_modifiable(record.dandiset)
    draft = record.draft
    assert draft is not None  # joined, not outer-joined, when locked
    if draft.status is VersionStatus.PUBLISHING:  # the publish job copies what it checked
        raise Locked("Dandiset is currently being published")
    new_metadata = {**strip_computed(body.metadata), "schemaKey": "Dandiset"}
    new_metadata.setdefault("schemaVersion", draft.metadata_.get("schemaVersion"))
    if new_metadata != draft.metadata_ or body.name != draft.name:
        draft.name, draft.metadata_ = body.name, new_metadata
        draft.status = draft.status.PENDING
        audit.record(session, user, dandiset_id, "update_metadata", {"metadata": new_metadata})
        emit(session, OutboxEntity.VERSION, draft.id)
        await session.flush()
        await session.refresh(draft)
        request_validation(session, draft.id, draft.modified)
    return await _info(session, settings, record, draft)


async def delete_published(
    session: AsyncSession, *, user: User, dandiset_id: int, version: str
) -> None:
    if not user.is_admin:
        raise PermissionDenied()
    if version == "draft":
        raise PermissionDenied("Cannot delete draft versions")
    found = await get_version(session, dandiset_id=dandiset_id, version=version, lock=True)
    emit(session, OutboxEntity.VERSION, found.id, OutboxOperation.DELETE)
    # Once the version is gone the search drain cannot tell its dandiset or assets: name them.
    emit(session, OutboxEntity.DANDISET, dandiset_id)
    held = select(VersionAsset.asset_id).where(VersionAsset.version_id == found.id)
    for asset_id in await session.scalars(held):
        emit(session, OutboxEntity.ASSET, asset_id)
    await session.delete(found)


def refuse_unpublishable(draft: Version) -> None:
    """DANDI's answer to a publish of a draft that is not Valid, by its status."""
    match draft.status:
        case VersionStatus.PUBLISHED:
            raise DraftAlreadyPublished()
        case VersionStatus.PUBLISHING:
            raise DraftPublishing()
        case VersionStatus.VALIDATING:
            raise DraftValidating()
        case VersionStatus.PENDING:
            raise DraftValidationPending()
        case VersionStatus.INVALID:
            raise DraftInvalid()


async def publish(
    session: AsyncSession, *, user: User, dandiset_id: int, version: str, release_notes: str | None
) -> None:
    """Check and lock the draft, mark it Publishing, and ask the ingest worker to publish it
    (after commit). The draft stays Publishing, refusing edits, until the job is done."""
    dandiset = await owned_dandiset(session, dandiset_id, user)
    if version != "draft":
        raise MethodNotAllowed("Only draft versions can be published.")
    if dandiset.embargo_status is not EmbargoStatus.OPEN:
        raise BadRequest("Operation only allowed on OPEN dandisets")
    draft = await get_version(session, dandiset_id=dandiset_id, version="draft", lock=True)
    refuse_unpublishable(draft)
    invalid = (
        select(VersionAsset.asset_id)
        .join(Asset, Asset.id == VersionAsset.asset_id)
        .where(VersionAsset.version_id == draft.id, Asset.status != AssetStatus.VALID)
        .limit(1)
    )
    if await session.scalar(invalid) is not None:
        raise DraftInvalid()
    draft.status, draft.release_notes = VersionStatus.PUBLISHING, release_notes
    draft.publish_requested_by, draft.publish_requested_at = user.id, datetime.now(UTC)
    payload = PublishRequest(dandiset_id=dandiset_id, user_id=user.id)
    enqueue_after_commit(session, PUBLISH_VERSION, payload)
