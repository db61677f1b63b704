"""`GET /api/dandisets/{id}/dois/`: DOI state, readable by whoever may read the dandiset."""

from __future__ import annotations

import httpx
from conftest import auth
from factories import create_dandiset, create_user
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import DoiState, DoiTarget, EmbargoStatus
from dandelion_common.db.models import Doi


async def test_dois_show_target_state_and_refusal(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    concept = f"10.80507/dandelion.{dandiset.id:06}"
    session.add_all([
        Doi(doi=concept, dandiset_id=dandiset.id, target=DoiTarget.FINDABLE,
            state=DoiState.FINDABLE),
        Doi(doi=f"{concept}/0.261124.1200", dandiset_id=dandiset.id, version="0.261124.1200",
            target=DoiTarget.FINDABLE, state=DoiState.FAILED, error="refused (422): url"),
    ])  # fmt: skip
    await session.flush()

    response = await api_client.get(f"/api/dandisets/{dandiset.id:06}/dois/")

    assert response.status_code == 200, response.text
    listed = response.json()
    assert [(d["doi"], d["version"], d["state"]) for d in listed] == [
        (concept, None, "findable"),
        (f"{concept}/0.261124.1200", "0.261124.1200", "failed"),
    ]
    assert listed[1]["error"] == "refused (422): url"


async def test_an_embargoed_dandisets_dois_are_its_owners(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, key = await create_user(session)
    dandiset, _ = await create_dandiset(
        session, owner=owner, embargo_status=EmbargoStatus.EMBARGOED
    )
    url = f"/api/dandisets/{dandiset.id:06}/dois/"
    assert (await api_client.get(url)).status_code in (401, 403, 404)
    assert (await api_client.get(url, headers=auth(key))).json() == []
