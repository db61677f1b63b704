"""Factories per aggregate: each builds a consistent aggregate with sensible defaults."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from dandischema.digests.dandietag import PartGenerator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.db.enums import (
    EmbargoStatus,
    ExtractStatus,
    OutboxEntity,
    UserStatus,
    ZarrStatus,
)
from dandelion_common.db.models import (
    ApiToken,
    Asset,
    AssetBlob,
    BlobExtract,
    Dandiset,
    DandisetOwner,
    SearchOutbox,
    User,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
)

_seq = itertools.count(1)


async def create_user(
    session: AsyncSession,
    *,
    status: UserStatus = UserStatus.APPROVED,
    admin: bool = False,
    **fields: Any,
) -> tuple[User, str]:
    """A user and their API key (only the key's hash is stored)."""
    n = next(_seq)
    user = User(
        username=fields.pop("username", f"user{n}-{uuid.uuid4().hex[:6]}"),
        email=fields.pop("email", f"user{n}@example.org"),
        first_name=fields.pop("first_name", "Ada"),
        last_name=fields.pop("last_name", f"Lovelace{n}"),
        status=status,
        is_admin=admin,
        **fields,
    )
    session.add(user)
    await session.flush()
    key = generate_api_key()
    session.add(ApiToken(user_id=user.id, key_hash=hash_api_key(key)))
    await session.flush()
    return user, key


async def create_dandiset(
    session: AsyncSession,
    *,
    owner: User,
    name: str = "A test dandiset",
    embargo_status: EmbargoStatus = EmbargoStatus.OPEN,
) -> tuple[Dandiset, Version]:
    """A dandiset with its draft version and one owner."""
    dandiset = Dandiset(embargo_status=embargo_status)
    session.add(dandiset)
    await session.flush()
    draft = Version(
        dandiset_id=dandiset.id,
        version="draft",
        name=name,
        metadata_={"name": name, "schemaKey": "Dandiset", "description": "For tests."},
    )
    session.add_all([draft, DandisetOwner(dandiset_id=dandiset.id, user_id=owner.id)])
    await session.flush()
    return dandiset, draft


def dandi_etag(data: bytes) -> str:
    """The dandi-etag of `data`: S3's multipart ETag over dandischema's part plan."""
    md5s = [
        hashlib.md5(data[p.offset : p.offset + p.size], usedforsecurity=False).digest()
        for p in PartGenerator.for_file_size(len(data))
    ]
    return hashlib.md5(b"".join(md5s), usedforsecurity=False).hexdigest() + f"-{len(md5s)}"


async def create_blob(session: AsyncSession, *, content: bytes = b"nwb bytes") -> AssetBlob:
    """A blob row with the dandi-etag of `content` as one part (no S3 object)."""
    blob = AssetBlob(
        etag=dandi_etag(content), size=len(content), sha256=hashlib.sha256(content).hexdigest()
    )
    session.add(blob)
    await session.flush()
    return blob


async def create_extract(
    session: AsyncSession,
    blob: AssetBlob,
    *,
    metadata: dict[str, Any] | None = None,
    error: str = "",
    findings: list[dict[str, Any]] | None = None,
) -> BlobExtract:
    """The ingest worker's NWB extraction result for `blob`: failed when `error` is given. As
    the extract job does, it makes a checksummed blob ready (without asking for validation)."""
    extract = BlobExtract(
        blob_id=blob.id,
        status=ExtractStatus.FAILED if error else ExtractStatus.EXTRACTED,
        error=error,
        extractor_version="test",
        metadata_=metadata or {},
        findings=findings,
    )
    session.add(extract)
    if blob.sha256 is not None and blob.ready_at is None:
        blob.ready_at = datetime.now(UTC)
    await session.flush()
    return extract


async def create_asset(
    session: AsyncSession, *, version: Version, path: str, blob: AssetBlob | None = None
) -> Asset:
    """An asset in `version`, with the version's counters kept in step."""
    blob = blob or await create_blob(session, content=path.encode())
    asset = Asset(path=path, blob_id=blob.id, metadata_={"path": path, "schemaKey": "Asset"})
    session.add(asset)
    await session.flush()
    session.add(VersionAsset(version_id=version.id, asset_id=asset.id, path=path))
    version.asset_count += 1
    version.size += blob.size
    await session.flush()
    return asset


async def outbox_rows(session: AsyncSession, entity: OutboxEntity, entity_id: object) -> int:
    """How many search outbox rows name this entity."""
    query = select(func.count()).where(
        SearchOutbox.entity_type == entity, SearchOutbox.entity_id == str(entity_id)
    )
    return int(await session.scalar(query) or 0)


async def create_zarr(session: AsyncSession, dandiset: Dandiset, *, name: str) -> ZarrArchive:
    """A zarr archive of the dandiset as the API creates it: Pending, empty."""
    archive = ZarrArchive(
        dandiset_id=dandiset.id, name=name, status=ZarrStatus.PENDING, file_count=0, size=0
    )
    session.add(archive)
    await session.flush()
    return archive


async def ingest_snapshot(session: AsyncSession, archive: ZarrArchive, size: int) -> ZarrSnapshot:
    """What an ingest leaves: a snapshot of 3 files, the archive Complete and pointing at it."""
    checksum = f"{uuid.uuid4().hex}-3--{size}"
    snapshot = ZarrSnapshot(zarr_id=archive.id, checksum=checksum, file_count=3, size=size)
    session.add(snapshot)
    await session.flush()
    archive.snapshot_id, archive.status, archive.checksum = (
        snapshot.id,
        ZarrStatus.COMPLETE,
        checksum,
    )
    archive.file_count, archive.size = 3, size
    await session.flush()
    return snapshot
