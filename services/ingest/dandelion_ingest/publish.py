"""Publishing: the draft (status Publishing) becomes an immutable version `0.YYMMDD.HHMM`.

One transaction, under the draft's row lock: the new version row with frozen metadata, its
asset and path rows copied from the draft by INSERT ... SELECT (asset rows are shared, never
copied; editing the draft later makes new asset rows), the newly published assets frozen,
the draft marked Published. After commit: the manifests and the DOIs. Running twice is
harmless: the second run finds the draft no longer Publishing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common import audit
from dandelion_common.db.enums import DoiTarget, OutboxEntity, VersionStatus
from dandelion_common.db.models import (
    Asset,
    AssetPath,
    Dandiset,
    User,
    Version,
    VersionAsset,
)
from dandelion_common.dois import version_doi, want_doi
from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import (
    PUBLISH_VERSION,
    WRITE_MANIFESTS,
    PublishRequest,
    VersionRef,
)
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.metadata import (
    citation,
    dandiset_identifier,
    full_metadata,
    publish_activity,
)
from dandelion_common.outbox import emit, emit_assets_of
from dandelion_common.settings import Settings
from dandelion_common.storage import manifest_key, object_url
from dandelion_ingest.resources import ingest_resources
from dandelion_ingest.summary import aggregate

logger = logging.getLogger("dandelion.ingest.publish")

VERSION_FORMAT = "0.%y%m%d.%H%M"


async def free_version(session: AsyncSession, dandiset_id: int, now: datetime) -> str:
    """`0.YYMMDD.HHMM` of `now` (UTC), a minute later per collision, as DANDI does."""
    taken = set(
        await session.scalars(select(Version.version).where(Version.dandiset_id == dandiset_id))
    )
    moment = now.astimezone(UTC).replace(second=0, microsecond=0)
    while (candidate := moment.strftime(VERSION_FORMAT)) in taken:
        moment += timedelta(minutes=1)
    return candidate


def published_metadata(
    settings: Settings,
    dandiset: Dandiset,
    draft: Version,
    *,
    version: str,
    activity: dict[str, Any],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The draft's document as the new version keeps it for ever."""
    document = full_metadata(settings, dandiset, draft)
    identifier = dandiset_identifier(settings, dandiset.id)
    url = f"{settings.instance.web_url}/dandiset/{dandiset.id:06}/{version}"
    assets_yaml = manifest_key(dandiset.id, version, "assets.yaml")
    document.update(
        {
            "version": version,
            "id": f"{identifier}/{version}",
            "url": url,
            "datePublished": activity["endDate"],
            "publishedBy": activity,
            "assetsSummary": summary,
            "manifestLocation": [object_url(settings.s3, assets_yaml)],
        }
    )
    if settings.doi.minting:  # no DOI is claimed that will never resolve
        document["doi"] = version_doi(settings, dandiset.id, version)
    if draft.release_notes:
        document["releaseNotes"] = draft.release_notes
    year = dandiset.created.year
    document["citation"] = citation(document, draft.name, version, url, year)
    return document


async def _copy_rows(session: AsyncSession, draft_id: int, version_id: int) -> None:
    """The draft's asset list and folder tree, copied in two statements."""
    held = select(
        literal(version_id), VersionAsset.asset_id, VersionAsset.path, VersionAsset.created
    ).where(VersionAsset.version_id == draft_id)
    await session.execute(
        insert(VersionAsset).from_select(["version_id", "asset_id", "path", "created"], held)
    )
    tree = select(
        literal(version_id),
        AssetPath.path,
        AssetPath.parent,
        AssetPath.asset_id,
        AssetPath.aggregate_files,
        AssetPath.aggregate_size,
    ).where(AssetPath.version_id == draft_id)
    columns = ["version_id", "path", "parent", "asset_id", "aggregate_files", "aggregate_size"]
    await session.execute(insert(AssetPath).from_select(columns, tree))


async def _freeze_assets(session: AsyncSession, draft_id: int, activity: dict[str, Any]) -> None:
    """Assets published for the first time keep their publish fields; assets published
    before stay as they were (their first publish is the one they record)."""
    fields = {"datePublished": activity["endDate"], "publishedBy": activity}
    held = select(VersionAsset.asset_id).where(VersionAsset.version_id == draft_id)
    await session.execute(
        update(Asset)
        .where(Asset.id.in_(held), Asset.published.is_(False))
        .values(published=True, metadata_=Asset.metadata_.op("||")(literal(fields, JSONB)))
    )


async def _summary(session: AsyncSession, draft: Version) -> dict[str, Any]:
    """The draft's stored assetsSummary when it describes the current asset revision (the
    usual case: the summary job ran after the last validation), else a fresh aggregation."""
    stored: dict[str, Any] | None = draft.metadata_.get("assetsSummary")
    if stored is not None and draft.summary_revision == draft.assets_revision:
        return stored
    summary, _ = await session.run_sync(aggregate, draft.id)
    return summary


async def publish_draft(
    session: AsyncSession, settings: Settings, payload: PublishRequest
) -> Version | None:
    """The publish itself; None when there is nothing (or no longer anything) to publish."""
    query = select(Version).where(
        Version.dandiset_id == payload.dandiset_id, Version.version == "draft"
    )
    draft = await session.scalar(query.with_for_update())
    if draft is None or draft.status is not VersionStatus.PUBLISHING:
        return None  # published already, or the draft changed since it was checked
    dandiset = await session.get(Dandiset, payload.dandiset_id)
    user = await session.get(User, payload.user_id)
    assert dandiset is not None
    started = datetime.now(UTC)
    summary = await _summary(session, draft)
    version = await free_version(session, dandiset.id, started)
    activity = publish_activity(settings, started, datetime.now(UTC))
    metadata = published_metadata(
        settings, dandiset, draft, version=version, activity=activity, summary=summary
    )
    published = Version(
        dandiset_id=dandiset.id, version=version, name=draft.name, metadata_=metadata,
        status=VersionStatus.VALID, asset_count=draft.asset_count, size=draft.size,
    )  # fmt: skip
    session.add(published)
    await session.flush()
    await _copy_rows(session, draft.id, published.id)
    await _freeze_assets(session, draft.id, activity)
    # The draft keeps its revision (`modified`): only an edit makes it publishable again.
    await session.execute(
        update(Version)
        .where(Version.id == draft.id)
        .values(
            status=VersionStatus.PUBLISHED,
            release_notes=None,
            metadata_=Version.metadata_.op("||")(literal({"assetsSummary": summary}, JSONB)),
            modified=Version.modified,
        )
    )
    _after_publish(session, published, draft)
    await emit_assets_of(session, published.id)  # their documents list the new version
    if user is not None:
        audit.record(session, user, dandiset.id, "publish_dandiset", {"version": version})
    if settings.doi.minting:
        await want_doi(session, settings, dandiset.id, DoiTarget.FINDABLE, version=version)
        await want_doi(session, settings, dandiset.id, DoiTarget.FINDABLE)
    return published


def _after_publish(session: AsyncSession, published: Version, draft: Version) -> None:
    emit(session, OutboxEntity.VERSION, published.id)
    emit(session, OutboxEntity.VERSION, draft.id)
    enqueue_after_commit(session, WRITE_MANIFESTS, VersionRef(version_id=published.id))


@handler(PUBLISH_VERSION)
async def publish(ctx: Context, payload: PublishRequest) -> str:
    settings: Settings = ingest_resources(ctx).settings
    async with job_session(ctx) as session:
        published = await publish_draft(session, settings, payload)
        if published is None:
            return "nothing to publish"
        version = published.version
    logger.info("published", extra={"dandiset_id": payload.dandiset_id, "version": version})
    return version
