"""Listings of the versioned zarr bucket against a real S3: every version kept, the current
ones listed, and the one ListObjectVersions paging loop across many pages."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from dandelion_common.storage import S3Storage, zarr_key


async def test_the_zarr_bucket_keeps_each_version_and_lists_the_current_ones(
    storage: S3Storage, http: httpx.AsyncClient
) -> None:
    prefix = zarr_key(uuid.uuid4())
    await storage.zarr.put(f"{prefix}0/0", b"first")
    await storage.zarr.put(f"{prefix}0/0", b"second")
    await storage.zarr.put(f"{prefix}0/1", b"other")
    await storage.zarr.delete_many([f"{prefix}0/1"])
    pages = [page async for page in storage.zarr.latest_versions(prefix)]
    (current,) = [o for page in pages for o in page]
    assert (current.key, current.size) == (f"{prefix}0/0", len(b"second"))
    assert await storage.zarr.count_versions(prefix) == (3, 1)
    listed = [v async for page in storage.zarr.versions(f"{prefix}0/0") for v in page]
    first = next(v.version_id for v in listed if not v.is_latest)
    url = await storage.zarr.presign_get(f"{prefix}0/0", version_id=first)
    assert (await http.get(url)).content == b"first"


async def test_an_unversioned_bucket_gives_no_version_ids(storage: S3Storage) -> None:
    """Objects of an unversioned bucket list with the version id "null", which a snapshot
    must not record: an overwrite destroys that version."""
    settings = storage.settings.model_copy(update={"zarr_bucket": f"unversioned-{uuid.uuid4()}"})
    plain = await S3Storage.connect(settings)
    try:
        await plain.zarr.ensure_bucket()  # a sibling bucket: created without versioning
        await plain.zarr.put("zarr/x/0", b"data")
        (page,) = [page async for page in plain.zarr.latest_versions("zarr/")]
        assert [(o.key, o.version_id) for o in page] == [("zarr/x/0", None)]
        assert not await plain.zarr.versioning_enabled()
        assert await storage.zarr.versioning_enabled()
    finally:
        await plain.close()


async def listings(storage: S3Storage, prefix: str) -> tuple[list[Any], ...]:
    """What the three version listings give, page by page."""
    latest = [page async for page in storage.latest_versions(prefix)]
    after_a = [page async for page in storage.latest_versions(prefix, after=f"{prefix}a")]
    versions = [page async for page in storage.versions(prefix)]
    return latest, after_a, versions, [await storage.count_versions(prefix)]


async def test_version_listings_page_past_one_listing_request(
    storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two entries per ListObjectVersions request: a key's versions straddle pages, and every
    listing still sees each version, marker and current object once, as in one page."""
    zarrs, prefix = storage.zarr, zarr_key(uuid.uuid4())
    for n in range(3):
        await zarrs.put(f"{prefix}a", b"a%d" % n)
    await zarrs.put(f"{prefix}b", b"b")
    await zarrs.delete_many([f"{prefix}b"])  # a delete marker on top of b's one version
    await zarrs.put(f"{prefix}c", b"c")
    await zarrs.put(f"{prefix}c", b"c1")
    whole = await listings(zarrs, prefix)
    monkeypatch.setattr(zarrs, "LIST_PAGE", 2)
    paged = await listings(zarrs, prefix)

    latest, after_a, versions, counts = paged
    assert len(versions) == 4  # 7 entries, 2 a page
    flat = [v for page in versions for v in page]
    assert [v.key[len(prefix) :] for v in flat] == ["a", "a", "a", "b", "b", "c", "c"]
    assert [v.key[len(prefix) :] for v in flat if v.delete_marker] == ["b"]
    assert len({v.version_id for v in flat}) == 7
    current = [(o.key[len(prefix) :], o.size) for page in latest for o in page]
    assert current == [("a", 2), ("c", 2)]
    assert [o.key for page in after_a for o in page] == [f"{prefix}c"]
    assert {o.version_id for page in latest for o in page} == {
        v.version_id for v in flat if v.is_latest and not v.delete_marker
    }
    assert counts == [(6, 1)]
    for one, many in zip(whole, paged, strict=True):  # a key's entries may come in any order
        assert sorted(map(repr, (x for page in one for x in page))) == sorted(
            map(repr, (x for page in many for x in page))
        )
