"""Users with dandisets to write through, or to attack."""

from __future__ import annotations

from dataclasses import dataclass

from conftest import auth
from factories import create_asset, create_blob, create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import Asset, AssetBlob, Dandiset, User, Version


@dataclass
class Owned:
    """A user, their key, and their dandiset whose draft holds one asset."""

    user: User
    key: str
    dandiset: Dandiset
    draft: Version
    asset: Asset
    spare_blob: AssetBlob  # in no asset yet: what a write body may refer to

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.key)

    @property
    def identifier(self) -> str:
        return f"{self.dandiset.id:06}"


async def owned(session: AsyncSession, *, embargoed: bool = False) -> Owned:
    user, key = await create_user(session)
    status = EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN
    dandiset, draft = await create_dandiset(session, owner=user, embargo_status=status)
    asset = await create_asset(session, version=draft, path=f"sub-01/{user.username}.nwb")
    spare = await create_blob(session, content=f"spare of {user.username}".encode())
    for blob_id in (asset.blob_id, spare.id):
        blob = await session.get(AssetBlob, blob_id)
        assert blob is not None
        # Blobs uploaded into an embargoed dandiset are embargoed themselves.
        blob.embargoed = embargoed
    await session.flush()
    return Owned(user, key, dandiset, draft, asset, spare)
