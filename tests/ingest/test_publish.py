"""The publish job: an immutable version sharing the draft's asset rows, frozen metadata, the
draft Published; and the manifests it asks for, written to S3."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from conftest import ingest_context
from factories import create_asset, create_dandiset, create_user, outbox_rows
from localstack import PUBLISHABLE
from s3 import read_range
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, DoiTarget, OutboxEntity, VersionStatus
from dandelion_common.db.models import Asset, Dandiset, Doi, User, Version, VersionAsset
from dandelion_common.db.session import Database
from dandelion_common.jobs.contracts import PublishRequest
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, manifest_key
from dandelion_ingest.manifests import manifests, write_manifests
from dandelion_ingest.publish import free_version, publish, publish_draft
from dandelion_ingest.summary import summarize_drafts_of, summarize_version


@pytest.fixture
def ctx(
    settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage
) -> dict[str, Any]:
    return ingest_context(settings, db, job_queue, storage)


async def publishing(
    session: AsyncSession, assets: int = 2, *, subject: str = "sub"
) -> tuple[Dandiset, Version, User]:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    draft.metadata_ = {**draft.metadata_, **PUBLISHABLE}
    for n in range(assets):
        path = f"{subject}-{n}/{subject}-{n}_ecephys.nwb"
        asset = await create_asset(session, version=draft, path=path)
        asset.status = AssetStatus.VALID
        asset.metadata_ = {
            **asset.metadata_, "schemaVersion": SCHEMA_VERSION,
            "encodingFormat": "application/x-nwb",
        }  # fmt: skip
    draft.status, draft.release_notes = VersionStatus.PUBLISHING, "Notes."
    await session.flush()
    return dandiset, draft, owner


async def held(session: AsyncSession, version: Version) -> set[Any]:
    query = select(VersionAsset.asset_id).where(VersionAsset.version_id == version.id)
    return set(await session.scalars(query))


async def test_publishing_makes_an_immutable_version_sharing_the_assets(
    session: AsyncSession, settings: Settings
) -> None:
    dandiset, draft, owner = await publishing(session)
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)

    published = await publish_draft(session, settings, request)

    assert published is not None
    assert published.status is VersionStatus.VALID
    assert re.fullmatch(r"0\.\d{6}\.\d{4}", published.version)
    assert await held(session, published) == await held(session, draft)
    metadata = published.metadata_
    assert metadata["version"] == published.version
    assert metadata["id"].endswith(f"{dandiset.id:06}/{published.version}")
    assert metadata["releaseNotes"] == "Notes."
    assert metadata["publishedBy"]["schemaKey"] == "PublishActivity"
    assert metadata["assetsSummary"]["numberOfFiles"] == 2
    assert metadata["manifestLocation"][0].endswith(
        manifest_key(dandiset.id, published.version, "assets.yaml")
    )
    assert "doi" not in metadata  # minting is off in the test settings
    await session.refresh(draft)
    assert (draft.status, draft.release_notes) == (VersionStatus.PUBLISHED, None)
    for asset in await session.scalars(
        select(Asset).where(Asset.id.in_(await held(session, draft)))
    ):
        assert asset.published
        assert asset.metadata_["datePublished"] == metadata["datePublished"]
        assert await outbox_rows(session, OutboxEntity.ASSET, asset.id) == 1


async def test_publishing_twice_publishes_once(session: AsyncSession, settings: Settings) -> None:
    dandiset, _, owner = await publishing(session)
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    assert await publish_draft(session, settings, request) is not None
    assert await publish_draft(session, settings, request) is None
    versions = select(Version.version).where(Version.dandiset_id == dandiset.id)
    assert len(list(await session.scalars(versions))) == 2  # the draft and one version


async def test_a_draft_changed_since_the_check_is_not_published(
    session: AsyncSession, settings: Settings
) -> None:
    dandiset, draft, owner = await publishing(session)
    draft.status = VersionStatus.PENDING  # an asset was added after the API's check
    await session.flush()
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    assert await publish_draft(session, settings, request) is None


async def test_version_ids_move_a_minute_on_collision(session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    moment = datetime(2026, 11, 24, 12, 59, 30, tzinfo=UTC)
    for taken in ("0.261124.1259", "0.261124.1300"):
        session.add(Version(dandiset_id=dandiset.id, version=taken, name="v", metadata_={}))
    await session.flush()
    assert await free_version(session, dandiset.id, moment) == "0.261124.1301"


async def test_minting_asks_for_the_version_and_concept_dois(
    session: AsyncSession, settings: Settings
) -> None:
    minting = settings.model_copy(
        update={"doi": settings.doi.model_copy(update={"username": "R.ID", "password": "p"})}
    )
    assert minting.doi.minting
    dandiset, _, owner = await publishing(session)
    published = await publish_draft(
        session, minting, PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    )
    assert published is not None
    rows = {d.doi: d for d in await session.scalars(select(Doi))}
    concept = f"{settings.doi.prefix}/{settings.instance.name.lower()}.{dandiset.id:06}"
    assert published.metadata_["doi"] == f"{concept}/{published.version}"
    assert rows[concept].target is DoiTarget.FINDABLE
    assert rows[published.metadata_["doi"]].target is DoiTarget.FINDABLE


async def test_manifests_describe_the_published_version(
    session: AsyncSession, settings: Settings, storage: S3Storage
) -> None:
    dandiset, _, owner = await publishing(session, assets=3)
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    published = await publish_draft(session, settings, request)
    assert published is not None

    await write_manifests(session, settings, storage, published)

    async def read(name: str) -> bytes:
        key = manifest_key(dandiset.id, published.version, name)
        info = await storage.head(key)
        assert info is not None, name
        return await read_range(storage, key, 0, info.size - 1)

    assert yaml.safe_load(await read("dandiset.yaml"))["version"] == published.version
    assert json.loads(await read("dandiset.jsonld")) == published.metadata_
    assets = yaml.safe_load(await read("assets.yaml"))
    assert sorted(a["path"] for a in assets) == [f"sub-{n}/sub-{n}_ecephys.nwb" for n in range(3)]
    assert json.loads(await read("assets.jsonld")) == assets
    collection = json.loads(await read("collection.jsonld"))
    assert collection["@type"] == "prov:Collection"
    assert sorted(collection["hasMember"]) == sorted(a["id"] for a in assets)
    assert all("datePublished" in a for a in assets)


async def test_the_jobs_publish_and_write_the_manifests(
    ctx: dict[str, Any], session: AsyncSession, storage: S3Storage
) -> None:
    dandiset, _, owner = await publishing(session, assets=1)

    version = await publish.coroutine(ctx, dandiset_id=dandiset.id, user_id=owner.id)
    again = await publish.coroutine(ctx, dandiset_id=dandiset.id, user_id=owner.id)

    assert again == "nothing to publish"
    published = await session.scalar(
        select(Version).where(Version.dandiset_id == dandiset.id, Version.version == version)
    )
    assert published is not None
    assert await manifests.coroutine(ctx, version_id=published.id) == f"{dandiset.id:06}/{version}"
    assert await storage.head(manifest_key(dandiset.id, version, "collection.jsonld"))


async def test_a_current_stored_summary_is_reused_a_stale_one_recomputed(
    session: AsyncSession, settings: Settings
) -> None:
    stored = {"schemaKey": "AssetsSummary", "numberOfBytes": 7, "numberOfFiles": 1}
    for current, expected_files in ((True, 1), (False, 2)):
        dandiset, draft, owner = await publishing(session, subject=f"s{current}")
        draft.metadata_ = {**draft.metadata_, "assetsSummary": stored}
        draft.assets_revision, draft.summary_revision = 5, 5 if current else 4
        await session.flush()
        request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
        published = await publish_draft(session, settings, request)
        assert published is not None
        assert published.metadata_["assetsSummary"]["numberOfFiles"] == expected_files


async def test_the_summary_job_records_the_revision_it_describes(
    ctx: dict[str, Any], session: AsyncSession
) -> None:
    _, draft, _ = await publishing(session)
    draft.status = VersionStatus.VALID
    await session.flush()
    asset_id = next(iter(await held(session, draft)))

    await summarize_drafts_of(session, asset_id)  # what a validation does
    await session.refresh(draft)
    assert draft.assets_revision == 1
    await summarize_version.coroutine(ctx, version_id=draft.id)

    await session.refresh(draft)
    assert draft.summary_revision == 1
    assert draft.metadata_["assetsSummary"]["numberOfFiles"] == 2
