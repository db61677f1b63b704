"""The doi worker's jobs against the fake DataCite: concept DOIs discovered and registered,
publish making both DOIs findable with payloads that validate, outages retried until
DataCite answers, refusals recorded, deletions hiding or deleting."""

from __future__ import annotations

from typing import Any

import pytest
from arq import Retry
from doi.fake_datacite import FakeDataCite
from factories import create_asset, create_dandiset, create_user
from localstack import PUBLISHABLE
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import AssetStatus, DoiState, DoiTarget, EmbargoStatus, VersionStatus
from dandelion_common.db.models import Dandiset, Doi, Version
from dandelion_common.db.session import Database
from dandelion_common.dois import concept_doi, want_doi
from dandelion_common.jobs.contracts import PublishRequest
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.resources import job_context
from dandelion_common.schema import SCHEMA_VERSION
from dandelion_common.settings import Settings
from dandelion_doi.resources import DoiResources, datacite_client
from dandelion_doi.tasks import reconcile, sync_doi
from dandelion_ingest.publish import publish_draft


@pytest.fixture
def minting(settings: Settings, fake_datacite: FakeDataCite) -> Settings:
    doi = fake_datacite.doi_settings().model_copy(update={"timeout_seconds": 1.0})
    return settings.model_copy(update={"doi": doi})


@pytest.fixture
async def ctx(minting: Settings, db: Database, job_queue: JobQueue) -> Any:
    resources = DoiResources(
        settings=minting, db=db, queue=job_queue, datacite=datacite_client(minting)
    )
    yield job_context(resources)
    if resources.datacite is not None:
        await resources.datacite.aclose()


async def sync(ctx: dict[str, Any], doi: str) -> str:
    result: str = await sync_doi.coroutine(ctx, doi=doi)
    return result


async def row(session: AsyncSession, doi: str) -> Doi:
    found = await session.get(Doi, doi, populate_existing=True)
    assert found is not None
    return found


async def published_dandiset(session: AsyncSession, settings: Settings) -> tuple[Dandiset, Version]:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name="Place cells")
    draft.metadata_ = {**draft.metadata_, **PUBLISHABLE, "schemaVersion": SCHEMA_VERSION}
    asset = await create_asset(session, version=draft, path="sub-1/sub-1_ecephys.nwb")
    asset.status, draft.status = AssetStatus.VALID, VersionStatus.PUBLISHING
    asset.metadata_ = {**asset.metadata_, "schemaVersion": SCHEMA_VERSION,
                       "encodingFormat": "application/x-nwb"}  # fmt: skip
    await session.flush()
    request = PublishRequest(dandiset_id=dandiset.id, user_id=owner.id)
    version = await publish_draft(session, settings, request)
    assert version is not None
    return dandiset, version


async def test_open_dandisets_get_a_draft_concept_doi_embargoed_ones_none(
    ctx: dict[str, Any], session: AsyncSession, minting: Settings, fake_datacite: FakeDataCite
) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner, name="Open study")
    draft.metadata_ = {**draft.metadata_, **PUBLISHABLE}
    hidden, _ = await create_dandiset(session, owner=owner, embargo_status=EmbargoStatus.EMBARGOED)
    await session.flush()

    assert await reconcile(ctx) >= 1
    doi = concept_doi(minting, dandiset.id)
    assert await sync(ctx, doi) == "draft"

    held = fake_datacite.records[doi.lower()]
    assert held.state == "draft"
    assert held.attributes["titles"] == [{"title": "Open study"}]
    assert (await row(session, doi)).state is DoiState.DRAFT
    assert await session.get(Doi, concept_doi(minting, hidden.id)) is None
    assert await sync(ctx, doi) == "in step"  # nothing changed: no second call


async def test_publishing_makes_both_dois_findable_with_valid_payloads(
    ctx: dict[str, Any], session: AsyncSession, minting: Settings, fake_datacite: FakeDataCite
) -> None:
    from dandischema.datacite import validate_datacite

    dandiset, version = await published_dandiset(session, minting)
    version_doi, concept = version.metadata_["doi"], concept_doi(minting, dandiset.id)

    assert await sync(ctx, version_doi) == "findable"
    assert await sync(ctx, concept) == "findable"

    records = fake_datacite.records
    for doi in (version_doi, concept):
        assert records[doi.lower()].state == "findable"
        validate_datacite({"data": {"attributes": records[doi.lower()].attributes}})
    related = records[version_doi.lower()].attributes["relatedIdentifiers"]
    assert {"relatedIdentifier": concept, "relatedIdentifierType": "DOI",
            "relationType": "IsVersionOf"} in related  # fmt: skip
    assert records[version_doi.lower()].attributes["url"].endswith(version.version)


async def test_an_outage_is_retried_until_datacite_answers(
    ctx: dict[str, Any], session: AsyncSession, minting: Settings, fake_datacite: FakeDataCite
) -> None:
    _, version = await published_dandiset(session, minting)
    doi = version.metadata_["doi"]

    fake_datacite.fail_with(503)
    with pytest.raises(Retry):
        await sync(ctx, doi)
    fake_datacite.recover()
    fake_datacite.hang(5)
    with pytest.raises(Retry):  # the client gives up after its 1 s timeout
        await sync(ctx, doi)
    assert (await row(session, doi)).attempts == 2
    assert doi.lower() not in fake_datacite.records

    fake_datacite.recover()
    assert await reconcile(ctx) >= 1  # still behind: asked again
    assert await sync(ctx, doi) == "findable"
    assert (await row(session, doi)).error is None


async def test_a_refusal_is_recorded_and_not_retried_until_asked_again(
    ctx: dict[str, Any], session: AsyncSession, minting: Settings, fake_datacite: FakeDataCite
) -> None:
    dandiset, version = await published_dandiset(session, minting)
    doi = version.metadata_["doi"]
    fake_datacite.fail_with(403, times=1)

    assert (await sync(ctx, doi)).startswith("refused")
    refused = await row(session, doi)
    assert (refused.state, refused.error_status) == (DoiState.FAILED, 403)
    assert (await sync(ctx, doi)).startswith("failed until asked again")

    await want_doi(session, minting, dandiset.id, DoiTarget.FINDABLE, version=version.version)
    assert await sync(ctx, doi) == "findable"


async def test_deleted_versions_are_hidden_and_deleted_drafts_deleted(
    ctx: dict[str, Any], session: AsyncSession, minting: Settings, fake_datacite: FakeDataCite
) -> None:
    _, version = await published_dandiset(session, minting)
    doi = version.metadata_["doi"]
    assert await sync(ctx, doi) == "findable"
    owner, _ = await create_user(session)
    unpublished, _ = await create_dandiset(session, owner=owner, name="Never published")
    await reconcile(ctx)
    draft_doi = concept_doi(minting, unpublished.id)
    assert await sync(ctx, draft_doi) == "draft"

    await session.execute(delete(Version).where(Version.id == version.id))
    await session.execute(delete(Dandiset).where(Dandiset.id == unpublished.id))
    await reconcile(ctx)

    assert (await row(session, doi)).target is DoiTarget.HIDDEN
    assert await sync(ctx, doi) == "registered"  # hidden, never deleted
    assert fake_datacite.records[doi.lower()].state == "registered"
    assert await sync(ctx, draft_doi) == "deleted"
    assert draft_doi.lower() not in fake_datacite.records
    assert (await session.scalars(select(Doi.doi))).all()  # rows outlive what they named
