"""The one writer of a draft's folder tree: the nodes an add, a remove, a zarr resize and a
repoint leave, and the draft's lock every write takes before any node."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from factories import create_blob, create_dandiset, create_user
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dandelion_common import asset_paths
from dandelion_common.db.models import Asset, AssetBlob, AssetPath, Dandiset, Version

Tree = dict[str, tuple[str, uuid.UUID | None, int, int]]


async def tree_of(session: AsyncSession, version_id: int) -> Tree:
    """path: (parent, asset id, files, bytes) of every node of the version."""
    query = select(AssetPath).where(AssetPath.version_id == version_id)
    query = query.execution_options(populate_existing=True)
    return {
        n.path: (n.parent, n.asset_id, n.aggregate_files, n.aggregate_size)
        for n in await session.scalars(query)
    }


async def new_asset(session: AsyncSession, path: str) -> uuid.UUID:
    blob = await create_blob(session, content=f"{path} {uuid.uuid4()}".encode())
    asset = Asset(path=path, blob_id=blob.id, metadata_={"path": path})
    session.add(asset)
    await session.flush()
    return asset.id


@pytest.fixture
async def draft(session: AsyncSession) -> Version:
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    return draft


async def add(session: AsyncSession, draft: Version, path: str, size: int) -> uuid.UUID:
    asset_id = await new_asset(session, path)
    await asset_paths.add(session, draft.id, path, asset_id, size)
    return asset_id


def test_nodes_are_every_folder_top_first_then_the_file() -> None:
    assert asset_paths.nodes("a/b/c.nwb") == [("a", ""), ("a/b", "a"), ("a/b/c.nwb", "a/b")]
    assert asset_paths.nodes("c.nwb") == [("c.nwb", "")]


async def test_an_add_makes_or_grows_every_folder_above_the_file(
    session: AsyncSession, draft: Version
) -> None:
    first = await add(session, draft, "sub-1/ses-1/a.nwb", 10)
    second = await add(session, draft, "sub-1/b.nwb", 5)
    top = await add(session, draft, "top.json", 1)

    assert await tree_of(session, draft.id) == {
        "sub-1": ("", None, 2, 15),
        "sub-1/ses-1": ("sub-1", None, 1, 10),
        "sub-1/ses-1/a.nwb": ("sub-1/ses-1", first, 1, 10),
        "sub-1/b.nwb": ("sub-1", second, 1, 5),
        "top.json": ("", top, 1, 1),
    }


async def test_a_remove_drops_the_folders_the_file_was_alone_in(
    session: AsyncSession, draft: Version
) -> None:
    await add(session, draft, "sub-1/ses-1/a.nwb", 10)
    kept = await add(session, draft, "sub-1/b.nwb", 5)

    await asset_paths.remove(session, draft.id, "sub-1/ses-1/a.nwb", 10)

    assert await tree_of(session, draft.id) == {
        "sub-1": ("", None, 1, 5),
        "sub-1/b.nwb": ("sub-1", kept, 1, 5),
    }
    await asset_paths.remove(session, draft.id, "sub-1/b.nwb", 5)
    assert await tree_of(session, draft.id) == {}


async def test_a_zarr_resize_moves_the_file_and_every_folder_above_it(
    session: AsyncSession, draft: Version
) -> None:
    zarr = await add(session, draft, "sub-1/ses-1/micr/sample.ome.zarr", 0)
    beside = await add(session, draft, "sub-1/ses-1/a.nwb", 7)
    elsewhere = await add(session, draft, "sub-2/b.nwb", 3)

    await asset_paths.resize(session, draft.id, "sub-1/ses-1/micr/sample.ome.zarr", 300)
    await asset_paths.resize(session, draft.id, "sub-1/ses-1/micr/sample.ome.zarr", -100)
    await asset_paths.resize(session, draft.id, "sub-1/ses-1/micr/sample.ome.zarr", 0)

    assert await tree_of(session, draft.id) == {
        # Every ancestor grew by the size change and kept its file count.
        "sub-1": ("", None, 2, 207),
        "sub-1/ses-1": ("sub-1", None, 2, 207),
        "sub-1/ses-1/micr": ("sub-1/ses-1", None, 1, 200),
        "sub-1/ses-1/micr/sample.ome.zarr": ("sub-1/ses-1/micr", zarr, 1, 200),
        # Siblings and other folders did not.
        "sub-1/ses-1/a.nwb": ("sub-1/ses-1", beside, 1, 7),
        "sub-2": ("", None, 1, 3),
        "sub-2/b.nwb": ("sub-2", elsewhere, 1, 3),
    }


async def test_a_repoint_hands_the_leaf_to_another_row(
    session: AsyncSession, draft: Version
) -> None:
    await add(session, draft, "sub-1/sample.ome.zarr", 50)
    replacement = await new_asset(session, "sub-1/sample.ome.zarr")

    await asset_paths.repoint(session, draft.id, "sub-1/sample.ome.zarr", replacement)

    assert await tree_of(session, draft.id) == {
        "sub-1": ("", None, 1, 50),
        "sub-1/sample.ome.zarr": ("sub-1", replacement, 1, 50),
    }


async def test_only_the_given_version_changes(session: AsyncSession, draft: Version) -> None:
    other_owner, _ = await create_user(session)
    _, other = await create_dandiset(session, owner=other_owner)
    await add(session, other, "sub-1/a.nwb", 4)
    await add(session, draft, "sub-1/a.nwb", 4)

    await asset_paths.resize(session, draft.id, "sub-1/a.nwb", 6)
    await asset_paths.remove(session, draft.id, "sub-1/a.nwb", 10)

    assert await tree_of(session, draft.id) == {}
    assert (await tree_of(session, other.id))["sub-1"] == ("", None, 1, 4)


# -- the lock, between real transactions ----------------------------------------------------


@dataclass
class Committed:
    """A committed draft (other transactions must see it) holding "sub-1/b.nwb" (10 bytes)
    and "sub-1/x.zarr" (not ingested yet: 0 bytes)."""

    draft_id: int
    nwb: uuid.UUID
    zarr: uuid.UUID


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[Committed]:
    async with AsyncSession(engine) as setup, setup.begin():
        dandiset = Dandiset()
        setup.add(dandiset)
        await setup.flush()
        draft = Version(dandiset_id=dandiset.id, version="draft", name="x", metadata_={})
        setup.add(draft)
        await setup.flush()
        nwb, zarr = await new_asset(setup, "sub-1/b.nwb"), await new_asset(setup, "sub-1/x.zarr")
        await asset_paths.add(setup, draft.id, "sub-1/b.nwb", nwb, 10)
        await asset_paths.add(setup, draft.id, "sub-1/x.zarr", zarr, 0)
        dandiset_id, found = dandiset.id, Committed(draft.id, nwb, zarr)
    try:
        yield found
    finally:
        async with AsyncSession(engine) as cleanup, cleanup.begin():
            await cleanup.execute(delete(Dandiset).where(Dandiset.id == dandiset_id))
            assets = delete(Asset).where(Asset.id.in_([nwb, zarr])).returning(Asset.blob_id)
            blobs = list(await cleanup.scalars(assets))
            await cleanup.execute(delete(AssetBlob).where(AssetBlob.id.in_(blobs)))


async def api_write(api: AsyncSession, committed: Committed, write: str) -> None:
    if write == "add":
        asset_id = await new_asset(api, "sub-1/a.nwb")
        await asset_paths.add(api, committed.draft_id, "sub-1/a.nwb", asset_id, 5)
    else:
        await asset_paths.remove(api, committed.draft_id, "sub-1/b.nwb", 10)


@pytest.mark.parametrize(("write", "folder"), [("add", (3, 22)), ("remove", (1, 7))])
async def test_a_write_waits_for_the_draft_before_touching_a_node(
    engine: AsyncEngine, committed: Committed, write: str, folder: tuple[int, int]
) -> None:
    # The zarr ingest's finish: the draft locked first, then the tree resized. An API write
    # in the same folder meanwhile must not hold "sub-1" while it waits for the draft (each
    # would wait for the other, and PostgreSQL would abort one): it waits before any node.
    async with AsyncSession(engine) as ingest, AsyncSession(engine) as api:
        await ingest.begin()
        lock = "SELECT 1 FROM versions WHERE id = :id FOR UPDATE"
        await ingest.execute(text(lock), {"id": committed.draft_id})
        await api.begin()
        writing = asyncio.create_task(api_write(api, committed, write))
        await asyncio.sleep(0.3)
        assert not writing.done()  # waiting for the draft

        resize = asset_paths.resize(ingest, committed.draft_id, "sub-1/x.zarr", 7)
        await asyncio.wait_for(resize, 5)
        await ingest.commit()
        await asyncio.wait_for(writing, 5)

        tree = await tree_of(api, committed.draft_id)
        assert tree["sub-1"] == ("", None, *folder)
        assert tree["sub-1/x.zarr"] == ("sub-1", committed.zarr, 1, 7)
        assert ("sub-1/b.nwb" in tree) is (write == "add")
        await api.rollback()
