"""DANDI's search over HTTP: `?search=` on the list, the faceted search and its helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import auth
from factories import create_asset, create_dandiset, create_user
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, VersionStatus
from dandelion_common.db.models import Dandiset, User, Version

LIST = "/api/dandisets/"
FACETED = "/api/dandisets/search/"


async def _dandiset(
    session: AsyncSession,
    owner: User,
    *,
    metadata: dict[str, Any] | None = None,
    embargoed: bool = False,
) -> Dandiset:
    status = EmbargoStatus.EMBARGOED if embargoed else EmbargoStatus.OPEN
    dandiset, draft = await create_dandiset(session, owner=owner, embargo_status=status)
    draft.metadata_ = {**draft.metadata_, **(metadata or {})}
    await session.flush()
    return dandiset


async def _with_asset(
    session: AsyncSession, owner: User, asset_metadata: dict[str, Any]
) -> Dandiset:
    dandiset = await _dandiset(session, owner)
    draft = await session.get(Version, (await _draft_id(session, dandiset)))
    assert draft is not None
    asset = await create_asset(session, version=draft, path=f"sub-{uuid.uuid4().hex[:6]}.nwb")
    asset.metadata_ = {**asset.metadata_, **asset_metadata}
    await session.flush()
    return dandiset


async def _draft_id(session: AsyncSession, dandiset: Dandiset) -> int:
    query = select(Version.id).where(Version.dandiset_id == dandiset.id)
    return int((await session.scalars(query)).one())


async def _ids(client: httpx.AsyncClient, search: str, **params: str) -> set[int]:
    response = await client.get(LIST, params={"search": search, **params})
    assert response.status_code == 200, response.text
    return {int(item["identifier"]) for item in response.json()["results"]}


@pytest.fixture
async def owner(session: AsyncSession) -> User:
    user, _ = await create_user(session, first_name="Grace", last_name="Hopper")
    return user


# --- syntax errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LIST, FACETED])
async def test_misspelt_operator_is_a_400_with_a_suggestion(
    api_client: httpx.AsyncClient, path: str
) -> None:
    response = await api_client.get(path, params={"search": "specis:mouse"})
    assert response.status_code == 400
    assert response.json() == {
        "search": 'Unknown search operator "specis". Did you mean "species"? '
        'Wrap the term in double quotes (e.g. "foo:bar") to search for it as text.'
    }


@pytest.mark.parametrize(
    ("search", "fragment"),
    [
        ('foo "bar', "Unbalanced quote"),
        ("created_after:2024-13-01", "Use YYYY-MM-DD"),
        ('species:""', "requires a value"),
        ("a" * 1025, "Search query is too long (1025 characters; max 1024)."),
    ],
)
async def test_bad_queries_are_400s_on_the_search_key(
    api_client: httpx.AsyncClient, search: str, fragment: str
) -> None:
    response = await api_client.get(LIST, params={"search": search})
    assert response.status_code == 400
    assert list(response.json()) == ["search"]
    assert fragment in response.json()["search"]


async def test_a_1024_character_query_is_accepted(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get(LIST, params={"search": "a" * 1024})
    assert response.status_code == 200


# --- free text -------------------------------------------------------------------------------


async def test_every_word_must_match(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    both = await _dandiset(session, owner, metadata={"description": f"{token} hippocampus ca1"})
    await _dandiset(session, owner, metadata={"description": f"{token} hippocampus"})
    assert await _ids(api_client, f"{token} ca1 hippocampus") == {both.id}
    assert len(await _ids(api_client, f"{token} hippocampus")) == 2


async def test_words_match_anywhere_in_the_metadata_as_substrings(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    target = await _dandiset(session, owner, metadata={"keywords": [f"xx{token}yy"]})
    assert await _ids(api_client, token) == {target.id}


async def test_phrases_must_match_whole(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    phrase = await _dandiset(session, owner, metadata={"description": f"{token} place cells"})
    await _dandiset(session, owner, metadata={"description": f"{token} cells of a place"})
    assert await _ids(api_client, f'{token} "place cells"') == {phrase.id}


async def test_accents_and_case_are_ignored(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    target = await _dandiset(session, owner, metadata={"description": f"{token} Buzsáki lab"})
    for query in ("buzsaki", "BUZSÁKI", "Buzsáki"):
        assert await _ids(api_client, f"{token} {query}") == {target.id}, query


async def test_like_wildcards_are_literal(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    await _dandiset(session, owner, metadata={"description": f"{token} abc"})
    assert await _ids(api_client, f"{token} a%c") == set()
    assert await _ids(api_client, f"{token} a_c") == set()


async def test_quoted_operator_lookalike_is_text(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    target = await _dandiset(session, owner, metadata={"description": f"see {token}:x"})
    assert await _ids(api_client, f'"{token}:x"') == {target.id}


# --- operators -------------------------------------------------------------------------------


def _summary(**names: list[str]) -> dict[str, Any]:
    return {"assetsSummary": {key: [{"name": n} for n in values] for key, values in names.items()}}


async def test_summary_operators_match_substrings_of_one_version(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    mouse = await _dandiset(
        session,
        owner,
        metadata=_summary(
            species=["Mus musculus - House mouse"],
            approach=["electrophysiological approach"],
            measurementTechnique=["spike sorting technique"],
        ),
    )
    rat = await _dandiset(
        session, owner, metadata=_summary(species=["Rattus norvegicus - Norway rat"])
    )
    assert await _ids(api_client, "species:MOUSE") == {mouse.id}
    assert await _ids(api_client, "species:mouse species:rat") == set()
    assert await _ids(api_client, 'technique:"spike sorting" approach:electro') == {mouse.id}
    assert await _ids(api_client, "species:Rattus") == {rat.id}
    assert await _ids(api_client, "species:.*") == set()  # no regex, no wildcard


async def test_owner_operator(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    mine = await _dandiset(session, owner)
    other, _ = await create_user(session)
    await _dandiset(session, other)
    for value in (owner.username.upper(), owner.email, '"grace hopper"', "Hopper"):
        assert mine.id in await _ids(api_client, f"owner:{value}"), value
    assert await _ids(api_client, f"owner:{owner.username} owner:{other.username}") == set()


async def test_date_operators(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    old = await _dandiset(session, owner)
    old.created = datetime(2020, 5, 1, 12, tzinfo=UTC)
    published = await _dandiset(session, owner)
    session.add(
        Version(
            dandiset_id=published.id,
            version="0.240102.0304",
            name="Published",
            metadata_={"name": "Published"},
            status=VersionStatus.PUBLISHED,
            created=datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        )
    )
    await session.flush()
    assert old.id in await _ids(api_client, "created_before:2020-05-02")
    assert old.id not in await _ids(api_client, "created_before:2020-05-01")
    assert old.id not in await _ids(api_client, "created_after:2020-05-02")
    assert await _ids(api_client, "published_after:2024-01-02 published_before:2024-1-3") == {
        published.id
    }
    assert published.id in await _ids(api_client, "modified_after:2024-01-01")


async def test_file_type_operator(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    nwb = await _with_asset(session, owner, {"encodingFormat": "application/x-nwb"})
    tiff = await _with_asset(session, owner, {"encodingFormat": "image/tiff"})
    assert nwb.id in await _ids(api_client, "file_type:nwb")
    assert tiff.id not in await _ids(api_client, "file_type:nwb")
    assert tiff.id in await _ids(api_client, "file_type:IMAGE")
    assert tiff.id in await _ids(api_client, "file_type:image/ti")


async def test_search_keeps_the_list_shape_and_paging(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    token = uuid.uuid4().hex[:8]
    for _ in range(3):
        await _dandiset(session, owner, metadata={"description": token})
    page = (await api_client.get(LIST, params={"search": token, "page_size": 2})).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"].endswith(f"search={token}&page_size=2&page=2")
    assert set(page["results"][0]) >= {"identifier", "draft_version", "embargo_status"}


# --- embargo ---------------------------------------------------------------------------------


async def test_embargoed_dandisets_are_found_only_by_owners_and_admins(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, owner_key = await create_user(session)
    _, other_key = await create_user(session)
    _, admin_key = await create_user(session, admin=True)
    token = uuid.uuid4().hex[:8]
    secret = await _dandiset(session, owner, metadata={"description": token}, embargoed=True)
    params = {"search": token, "embargoed": "true"}
    for key, expected in ((owner_key, {secret.id}), (admin_key, {secret.id}), (other_key, set())):
        response = await api_client.get(LIST, params=params, headers=auth(key))
        assert {int(i["identifier"]) for i in response.json()["results"]} == expected
    assert await _ids(api_client, token) == set()


# --- faceted search and helpers --------------------------------------------------------------


async def test_faceted_search_with_asset_counts(
    api_client: httpx.AsyncClient, session: AsyncSession, owner: User
) -> None:
    species = f"Mus musculus {uuid.uuid4().hex[:6]}"
    attributed = {"wasAttributedTo": [{"species": {"name": species}, "genotype": "wt"}]}
    mouse = await _with_asset(session, owner, {"encodingFormat": "application/x-nwb", **attributed})
    await _with_asset(session, owner, {"encodingFormat": "image/png"})
    response = await api_client.get(
        FACETED, params={"species": species, "file_type": ["application/x-nwb", "video/"]}
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["results"]
    assert int(item["identifier"]) == mouse.id
    assert item["asset_counts"] == {"species": 1, "file_type": 1}


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"file_type": "audio/"}, {"file_type": ['"audio/" is not a valid choice.']}),
        (
            {"file_size_min": "10", "file_size_max": "5"},
            {"non_field_errors": ["file_size_max must be greater than file_size_min"]},
        ),
    ],
)
async def test_faceted_search_refuses_bad_facets(
    api_client: httpx.AsyncClient, params: dict[str, str], body: dict[str, list[str]]
) -> None:
    response = await api_client.get(FACETED, params=params)
    assert (response.status_code, response.json()) == (400, body)


async def test_species_and_genotypes_hide_embargoed_assets(
    api_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    owner, owner_key = await create_user(session)
    token = uuid.uuid4().hex[:6]
    open_ = await _with_asset(
        session,
        owner,
        {"wasAttributedTo": [{"species": {"name": f"Open {token}"}, "genotype": f"g-{token}"}]},
    )
    hidden = await _with_asset(
        session,
        owner,
        {"wasAttributedTo": [{"species": {"name": f"Hidden {token}"}, "genotype": f"h-{token}"}]},
    )
    hidden.embargo_status = EmbargoStatus.EMBARGOED
    await session.flush()
    assert open_.id != hidden.id

    anonymous = await api_client.get("/api/search/species/", params={"species": token})
    assert anonymous.json()["results"] == [f"Open {token}"]
    assert set(anonymous.json()) == {"count", "next", "previous", "results"}
    mine = await api_client.get(
        "/api/search/species/", params={"species": token.upper()}, headers=auth(owner_key)
    )
    assert mine.json()["results"] == [f"Hidden {token}", f"Open {token}"]

    genotypes = await api_client.get("/api/search/genotypes/", params={"genotype": token})
    assert genotypes.json() == [f"g-{token}"]
