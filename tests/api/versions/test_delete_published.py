"""An admin deleting a published version tells search about the dandiset and every asset the
version held (once the row is gone, the search drain could not find them)."""

from __future__ import annotations

import httpx
from conftest import auth
from factories import create_asset, create_dandiset, create_user, outbox_rows
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import OutboxEntity, VersionStatus
from dandelion_common.db.models import Version


async def test_deleting_a_published_version_names_its_dandiset_and_assets(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    _, admin_key = await create_user(session, admin=True)
    dandiset, _ = await create_dandiset(session, owner=owner)
    published = Version(
        dandiset_id=dandiset.id, version="0.240101.0000", name="v1",
        metadata_={"name": "v1"}, status=VersionStatus.PUBLISHED,
    )  # fmt: skip
    session.add(published)
    await session.flush()
    assets = [await create_asset(session, version=published, path=f"f{n}.nwb") for n in range(2)]

    response = await api_client.delete(
        f"/api/dandisets/{dandiset.id:06}/versions/0.240101.0000/", headers=auth(admin_key)
    )
    assert response.status_code == 204, response.text
    assert await outbox_rows(session, OutboxEntity.DANDISET, dandiset.id) >= 1
    for asset in assets:
        assert await outbox_rows(session, OutboxEntity.ASSET, asset.id) == 1
