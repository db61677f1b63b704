"""`POST /api/dandisets/{id}/versions/draft/publish/`: DANDI's checks, codes and messages;
202 with a null body, the draft Publishing and the publish job asked for."""

from __future__ import annotations

from traceback import walk_tb

import httpx
import pytest
from arq.constants import job_key_prefix
from conftest import auth
from factories import create_asset, create_dandiset, create_user
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_api.versions import service as versions
from dandelion_api.versions.exceptions import (
    DraftAlreadyPublished,
    DraftInvalid,
    DraftPublishing,
    DraftValidating,
    DraftValidationPending,
)
from dandelion_common.db.enums import AssetStatus, EmbargoStatus, VersionStatus
from dandelion_common.db.models import Dandiset, DandisetOwner, User, Version
from dandelion_common.errors import ArchiveError
from dandelion_common.jobs.contracts import PUBLISH_VERSION, PublishRequest
from dandelion_common.jobs.queue import JobQueue

REFUSED = {
    VersionStatus.PUBLISHED: DraftAlreadyPublished,
    VersionStatus.PUBLISHING: DraftPublishing,
    VersionStatus.VALIDATING: DraftValidating,
    VersionStatus.PENDING: DraftValidationPending,
    VersionStatus.INVALID: DraftInvalid,
}


async def owner_of(session: AsyncSession, dandiset: Dandiset) -> int | None:
    query = select(DandisetOwner.user_id).where(DandisetOwner.dandiset_id == dandiset.id)
    return await session.scalar(query)


def url(dandiset: Dandiset, version: str = "draft") -> str:
    return f"/api/dandisets/{dandiset.id:06}/versions/{version}/publish/"


async def publishable(session: AsyncSession) -> tuple[Dandiset, Version, str]:
    owner, key = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    asset = await create_asset(session, version=draft, path="sub-1/sub-1.nwb")
    asset.status, draft.status = AssetStatus.VALID, VersionStatus.VALID
    await session.flush()
    return dandiset, draft, key


async def test_a_valid_draft_is_accepted_and_marked_publishing(
    api_client: httpx.AsyncClient, session: AsyncSession, job_queue: JobQueue
) -> None:
    dandiset, draft, key = await publishable(session)

    response = await api_client.post(
        url(dandiset), headers=auth(key), json={"release_notes": "First release."}
    )

    assert response.status_code == 202, response.text
    assert response.json() is None
    await session.refresh(draft)
    assert (draft.status, draft.release_notes) == (VersionStatus.PUBLISHING, "First release.")
    owner_id = await session.scalar(
        select(DandisetOwner.user_id).where(DandisetOwner.dandiset_id == dandiset.id)
    )
    # Who asked, kept for the ingest reconcile should the job be lost.
    assert draft.publish_requested_by == owner_id
    assert draft.publish_requested_at is not None
    assert owner_id is not None
    payload = PublishRequest(dandiset_id=dandiset.id, user_id=owner_id)
    job_id = PUBLISH_VERSION.job_id(payload)
    assert await job_queue.redis.exists(job_key_prefix + str(job_id))


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (VersionStatus.PUBLISHED, 400, "There have been no changes to the draft version since the last publish."),  # noqa: E501
        (VersionStatus.PUBLISHING, 423, "Dandiset is currently being published"),
        (VersionStatus.VALIDATING, 409, "Dandiset is currently being validated"),
        (VersionStatus.PENDING, 409, "Metadata validation is pending for this dandiset, please try again later."),  # noqa: E501
        (VersionStatus.INVALID, 400, "Dandiset metadata or asset metadata is not valid"),
    ],
)  # fmt: skip
async def test_a_draft_that_is_not_valid_is_refused_by_status(
    api_client: httpx.AsyncClient,
    session: AsyncSession,
    status: VersionStatus,
    code: int,
    message: str,
) -> None:
    dandiset, draft, key = await publishable(session)
    draft.status = status
    await session.flush()

    response = await api_client.post(url(dandiset), headers=auth(key))

    assert (response.status_code, response.json()) == (code, message)
    await session.refresh(draft)
    assert draft.status is status


async def test_an_asset_that_is_not_valid_blocks_publishing(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    dandiset, draft, key = await publishable(session)
    await create_asset(session, version=draft, path="sub-2/sub-2.nwb")  # Pending

    response = await api_client.post(url(dandiset), headers=auth(key))

    assert response.status_code == 400
    assert response.json() == "Dandiset metadata or asset metadata is not valid"


async def test_only_owners_publish_only_drafts_of_open_dandisets(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    dandiset, draft, key = await publishable(session)
    _, stranger_key = await create_user(session)
    assert (await api_client.post(url(dandiset), headers=auth(stranger_key))).status_code == 403
    assert (await api_client.post(url(dandiset))).status_code == 401
    published = await api_client.post(url(dandiset, "0.240101.0000"), headers=auth(key))
    assert published.status_code in (404, 405)
    dandiset.embargo_status = EmbargoStatus.EMBARGOED
    await session.flush()
    embargoed = await api_client.post(url(dandiset), headers=auth(key))
    assert (embargoed.status_code, embargoed.json()) == (
        400,
        "Operation only allowed on OPEN dandisets",
    )
    await session.refresh(draft)
    assert draft.status is VersionStatus.VALID


async def test_release_notes_are_capped(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    dandiset, _, key = await publishable(session)
    response = await api_client.post(
        url(dandiset), headers=auth(key), json={"release_notes": "x" * 5001}
    )
    assert response.status_code == 400


async def test_the_draft_cannot_be_edited_while_it_is_published(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    dandiset, draft, key = await publishable(session)
    draft.status = VersionStatus.PUBLISHING
    await session.flush()

    response = await api_client.put(
        f"/api/dandisets/{dandiset.id:06}/versions/draft/",
        headers=auth(key),
        json={"name": "Renamed", "metadata": {"name": "Renamed"}},
    )

    assert (response.status_code, response.json()) == (423, "Dandiset is currently being published")


@pytest.mark.parametrize("status", list(REFUSED))
async def test_each_refusal_is_a_fresh_exception_holding_nothing_of_earlier_requests(
    session: AsyncSession, status: VersionStatus
) -> None:
    # A shared exception instance re-raised grows its traceback by every refused request's
    # frames, keeping their sessions, users and drafts alive.
    dandiset, draft, _ = await publishable(session)
    draft.status = status
    await session.flush()
    user = await session.get(User, await owner_of(session, dandiset))
    assert user is not None

    async def refuse() -> ArchiveError:
        with pytest.raises(ArchiveError) as refused:
            await versions.publish(
                session, user=user, dandiset_id=dandiset.id, version="draft", release_notes=None
            )
        return refused.value

    first, second = await refuse(), await refuse()

    assert first is not second
    assert len(list(walk_tb(second.__traceback__))) == len(list(walk_tb(first.__traceback__)))
    assert (type(first), first.message) == (type(second), second.message)
    assert isinstance(first, REFUSED[status])
