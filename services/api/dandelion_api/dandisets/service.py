"""Dandiset use cases. Functions take the session and never commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.dandisets import repository, tombstone
from dandelion_api.dandisets.access import (
    ensure_modifiable,
    ensure_readable,
    owned_dandiset,
    readable_dandiset,
)
from dandelion_api.dandisets.repository import DandisetRecord, ListFilters
from dandelion_api.dandisets.schemas import (
    DandisetCreate,
    DandisetDetail,
    DandisetListItem,
    DandisetShort,
    EmbargoOptions,
    Owner,
    OwnerRef,
    VersionDetail,
    VersionSummary,
)
from dandelion_api.search.syntax import parse_search
from dandelion_api.versions.validation import request_validation
from dandelion_common import audit
from dandelion_common.db.enums import EmbargoStatus, OutboxEntity, OutboxOperation, VersionStatus
from dandelion_common.db.models import Dandiset, DandisetOwner, DandisetStar, Upload, User, Version
from dandelion_common.errors import BadRequest, NotAuthenticated, NotFound, PermissionDenied
from dandelion_common.metadata import contact_person, strip_computed
from dandelion_common.outbox import emit
from dandelion_common.schema import SCHEMA_VERSION


def _summary(version: Version | None) -> VersionSummary | None:
    if version is None:
        return None
    return VersionSummary.model_validate(version, from_attributes=True)


def _detail(version: Version | None, active_uploads: int) -> VersionDetail | None:
    return None if version is None else version_detail(version, active_uploads)


def version_detail(version: Version, active_uploads: int) -> VersionDetail:
    """A version record; only the draft counts active uploads."""
    return VersionDetail(
        version=version.version,
        name=version.name,
        asset_count=version.asset_count,
        active_uploads=active_uploads if version.version == "draft" else 0,
        size=version.size,
        status=version.status,
        created=version.created,
        modified=version.modified,
        release_notes=str(version.metadata_.get("releaseNotes", "")),
    )


def _short(record: DandisetRecord) -> dict[str, Any]:
    dandiset = record.dandiset
    current = record.published or record.draft
    return {
        "identifier": f"{dandiset.id:06}",
        "created": dandiset.created,
        "modified": dandiset.modified,
        "contact_person": contact_person(current.metadata_) if current else "",
        "embargo_status": dandiset.embargo_status,
        "star_count": record.stars,
        "is_starred": record.starred,
    }


def dandiset_short(record: DandisetRecord) -> DandisetShort:
    """DANDI's short dandiset (nested in version records)."""
    return DandisetShort(**_short(record))


async def readable_record(
    session: AsyncSession, *, dandiset_id: int, user: User | None, lock_draft: bool = False
) -> DandisetRecord:
    """The dandiset's record if the caller may read it (404, or 401/403 when embargoed)."""
    found = await repository.record(session, dandiset_id, user, lock_draft=lock_draft)
    if found is None:
        raise NotFound("No Dandiset matches the given query.")
    ensure_readable(found.dandiset, owned=found.owned, user=user)
    return found


async def list_dandisets(
    session: AsyncSession,
    *,
    filters: ListFilters,
    user: User | None,
    offset: int,
    limit: int,
    search: str | None = None,
) -> tuple[list[DandisetListItem], int]:
    """A page of the list; `search` is DANDI's query syntax (a bad query is a 400)."""
    if filters.embargoed and user is None:
        raise NotAuthenticated(
            "Authentication credentials must be provided when attempting to access "
            "embargoed dandisets"
        )
    if filters.starred and user is None:
        raise NotAuthenticated("Must be authenticated to filter by starred dandisets.")
    if search:  # after the auth checks: DANDI builds the queryset before filtering it
        filters = replace(filters, search=parse_search(search))
    records, count = await repository.list_page(session, filters, user, offset=offset, limit=limit)
    items = [
        DandisetListItem(
            **_short(r),
            most_recent_published_version=_summary(r.published),
            draft_version=_summary(r.draft),
        )
        for r in records
    ]
    return items, count


def detail(record: DandisetRecord) -> DandisetDetail:
    return DandisetDetail(
        **_short(record),
        most_recent_published_version=_detail(record.published, 0),
        draft_version=_detail(record.draft, record.uploads),
    )


async def get(session: AsyncSession, *, dandiset_id: int, user: User | None) -> DandisetDetail:
    return detail(await readable_record(session, dandiset_id=dandiset_id, user=user))


def _embargo_end(options: EmbargoOptions) -> date:
    if bool(options.funding_source) != bool(options.award_number):
        raise BadRequest("funding_source and award_number must be given together")
    years = 5 if options.funding_source else 2
    latest = date.today() + timedelta(days=365 * years)
    end = options.embargo_end_date or date.today() + timedelta(days=365 * 2)
    if end > latest:
        raise BadRequest(f"Embargo end date must be within {years} years")
    if end <= date.today():
        raise BadRequest("Embargo end date must be in the future")
    return end


def _initial_metadata(
    body: DandisetCreate, user: User, options: EmbargoOptions, end: date | None
) -> dict[str, Any]:
    metadata = strip_computed(body.metadata)
    metadata.pop("access", None)
    metadata.setdefault("schemaVersion", SCHEMA_VERSION)
    metadata["schemaKey"] = "Dandiset"
    contributors = metadata.get("contributor") or [
        {
            "schemaKey": "Person",
            "name": f"{user.last_name}, {user.first_name}".strip(", "),
            "email": user.email,
            "roleName": ["dcite:ContactPerson"],
            "includeInCitation": True,
            "affiliation": [],
        }
    ]
    if end is not None and options.funding_source:
        contributors = [
            *contributors,
            {
                "schemaKey": "Organization",
                "name": options.funding_source,
                "roleName": ["dcite:Funder"],
                "awardNumber": options.award_number,
                "includeInCitation": False,
            },
        ]
    metadata["contributor"] = contributors
    return metadata


def _explicit_id(metadata: dict[str, Any], user: User) -> int | None:
    identifier = metadata.get("identifier")
    if identifier is None:
        return None
    if not user.is_admin:
        raise BadRequest("Only admins may choose a dandiset identifier.")
    digits = str(identifier).split(":")[-1]
    if not (digits.isdigit() and len(digits) <= 6 and int(digits) > 0):
        raise BadRequest(f"Invalid Identifier {identifier}")
    return int(digits)


# The next identity value and whether an admin took it already, in one round trip.
_NEXT_ID = text(
    "SELECT n, EXISTS (SELECT FROM dandisets WHERE id = n) "
    "FROM nextval(pg_get_serial_sequence('dandisets', 'id')) AS n"
)


async def _next_free_id(session: AsyncSession) -> int:
    """Identity values skip ids an admin chose explicitly."""
    while True:
        candidate, taken = (await session.execute(_NEXT_ID)).one()
        if not taken:
            return int(candidate)


async def create(
    session: AsyncSession, *, user: User, body: DandisetCreate, options: EmbargoOptions
) -> DandisetDetail:
    end = _embargo_end(options) if options.embargo else None
    explicit = _explicit_id(body.metadata, user)
    if explicit is not None and await session.scalar(
        select(exists().where(Dandiset.id == explicit))
    ):
        raise BadRequest(f"Dandiset {explicit:06} already exists")
    dandiset = Dandiset(
        id=explicit or await _next_free_id(session),
        embargo_status=EmbargoStatus.EMBARGOED if end else EmbargoStatus.OPEN,
        embargo_end_date=end,
    )
    metadata = _initial_metadata(body, user, options, end)
    draft = Version(dandiset_id=dandiset.id, version="draft", name=body.name, metadata_=metadata)
    session.add_all([dandiset, draft, DandisetOwner(dandiset_id=dandiset.id, user_id=user.id)])
    audit.record(
        session,
        user,
        dandiset.id,
        "create_dandiset",
        {"metadata": metadata, "embargoed": bool(end)},
    )
    emit(session, OutboxEntity.DANDISET, dandiset.id)
    # One flush: each INSERT returns the server's defaults (created, modified, status...), so
    # the answer is made of what was written, with nothing to read back.
    await session.flush()
    request_validation(session, draft.id, draft.modified)
    # As DANDI: the create response is built without request context, so is_starred is false.
    new = DandisetRecord(dandiset, draft, None, stars=0, starred=False)
    return detail(new)


async def delete_dandiset(session: AsyncSession, *, user: User, dandiset_id: int) -> None:
    dandiset = await owned_dandiset(session, dandiset_id, user, lock=True)
    published = select(
        exists().where(Version.dandiset_id == dandiset_id, Version.version != "draft")
    )
    if await session.scalar(published):
        raise PermissionDenied("Cannot delete dandisets with published versions.")
    publishing = select(
        exists().where(
            Version.dandiset_id == dandiset_id, Version.status == VersionStatus.PUBLISHING
        )
    )
    if await session.scalar(publishing):
        raise PermissionDenied("Cannot delete dandisets that are currently being published.")
    ensure_modifiable(dandiset)
    audit.record(session, user, dandiset_id, "delete_dandiset", {})
    emit(session, OutboxEntity.DANDISET, dandiset_id, OutboxOperation.DELETE)
    await tombstone.record(session, dandiset)  # before the delete: it reads the draft's name
    await session.delete(dandiset)


def _owner(user: User, *, show_email: bool) -> Owner:
    return Owner(
        username=user.username,
        name=f"{user.first_name} {user.last_name}".strip(),
        email=user.email if show_email else None,
    )


async def get_owners(session: AsyncSession, *, dandiset_id: int, user: User | None) -> list[Owner]:
    await readable_dandiset(session, dandiset_id, user)
    return [
        _owner(o, show_email=user is not None)
        for o in await repository.owners(session, dandiset_id)
    ]


async def set_owners(
    session: AsyncSession, *, user: User, dandiset_id: int, refs: list[OwnerRef]
) -> list[Owner]:
    dandiset = await owned_dandiset(session, dandiset_id, user, lock=True)
    ensure_modifiable(dandiset)
    if not refs:
        raise BadRequest("Cannot remove all draft owners")
    wanted: list[User] = []
    for ref in refs:
        found = await session.scalar(
            select(User).where(func.lower(User.username) == ref.username.lower())
        )
        if found is None:
            raise BadRequest(f"User {ref.username} not found")
        wanted.append(found)
    current = await repository.owners(session, dandiset_id)
    added = sorted({u.username for u in wanted} - {u.username for u in current})
    removed = sorted({u.username for u in current} - {u.username for u in wanted})
    await session.execute(delete(DandisetOwner).where(DandisetOwner.dandiset_id == dandiset_id))
    session.add_all(
        DandisetOwner(dandiset_id=dandiset_id, user_id=u.id)
        for u in {u.id: u for u in wanted}.values()
    )
    audit.record(
        session,
        user,
        dandiset_id,
        "change_owners",
        {"added_owners": added, "removed_owners": removed},
    )
    emit(session, OutboxEntity.DANDISET, dandiset_id)
    await session.flush()
    return [_owner(o, show_email=True) for o in await repository.owners(session, dandiset_id)]


async def star(session: AsyncSession, *, user: User, dandiset_id: int, on: bool) -> int:
    await readable_dandiset(session, dandiset_id, user)
    if on:
        exists_already = select(
            exists().where(DandisetStar.dandiset_id == dandiset_id, DandisetStar.user_id == user.id)
        )
        if not await session.scalar(exists_already):
            session.add(DandisetStar(dandiset_id=dandiset_id, user_id=user.id))
            await session.flush()
    else:
        await session.execute(
            delete(DandisetStar).where(
                DandisetStar.dandiset_id == dandiset_id, DandisetStar.user_id == user.id
            )
        )
    return await repository.star_count(session, dandiset_id)


async def pending_uploads(
    session: AsyncSession, *, user: User, dandiset_id: int, offset: int, limit: int
) -> tuple[list[Upload], int]:
    await owned_dandiset(session, dandiset_id, user)
    query = select(Upload).where(Upload.dandiset_id == dandiset_id)
    count = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    uploads = await session.scalars(
        query.order_by(Upload.created, Upload.id).offset(offset).limit(limit)
    )
    return list(uploads), count


async def clear_uploads(session: AsyncSession, *, user: User, dandiset_id: int) -> None:
    await owned_dandiset(session, dandiset_id, user)
    await session.execute(delete(Upload).where(Upload.dandiset_id == dandiset_id))
