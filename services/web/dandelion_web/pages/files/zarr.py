"""A zarr's files as folders: the children of one prefix, a page at a time.

The API lists a zarr as S3 does, flat: every file under a prefix in key (byte) order, after
a key (`/api/zarr/{id}/files/?prefix=&after=&limit=`), without S3's delimiter. A folder of
the page is the first segment after the prefix of a key that has more; once one is seen the
next request starts after everything under it (`after` = folder + "/" + the largest
character), so a folder of a million chunks costs one request, not a million keys.

A page holds `PAGE_SIZE` children and costs at most `MAX_REQUESTS` listings; it is resumed
from a cursor relative to the prefix: a file's name, or a folder's name and "/", so the
next page skips that folder whole. Paging goes forward only, as the API's does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dandelion_web.client import ArchiveClient, Params

PAGE_SIZE = 100
# Keys per listing request: the API's maximum.
BATCH = 1000
# Listing requests one page may make (each folder on it may cost one).
MAX_REQUESTS = 2 * PAGE_SIZE
# Sorts after every UTF-8 character, so "a/" + LAST is past every key under "a/".
LAST = "\U0010ffff"


@dataclass
class Child:
    name: str
    folder: bool
    entry: dict[str, Any] = field(default_factory=dict)  # a file's Key, Size, LastModified

    @property
    def cursor(self) -> str:
        return f"{self.name}/" if self.folder else self.name


@dataclass
class ZarrPage:
    children: list[Child]
    next_after: str | None  # the cursor of the next page, None on the last


def normal_prefix(prefix: str) -> str:
    """ "" or a folder path ending in "/" (slashes around it are tolerated)."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


def _start(prefix: str, after: str) -> str:
    if not after:
        return ""
    return f"{prefix}{after}{LAST}" if after.endswith("/") else f"{prefix}{after}"


async def children(archive: ArchiveClient, zarr_id: str, prefix: str, after: str = "") -> ZarrPage:
    """The page of `prefix`'s children after the cursor `after`."""
    found: list[Child] = []
    cursor = _start(prefix, after)
    for _ in range(MAX_REQUESTS):
        params: Params = {"prefix": prefix, "after": cursor, "limit": BATCH}
        listing = await archive.api(f"/zarr/{zarr_id}/files/", params)
        for entry in listing["results"]:
            name, slash, _rest = str(entry["Key"]).removeprefix(prefix).partition("/")
            if slash and found and found[-1].folder and found[-1].name == name:
                continue  # more of the folder just listed
            found.append(Child(name, folder=bool(slash), entry={} if slash else entry))
            if len(found) > PAGE_SIZE:
                return ZarrPage(found[:PAGE_SIZE], found[PAGE_SIZE - 1].cursor)
        if listing["next"] is None:
            return ZarrPage(found, None)
        last = found[-1]
        cursor = f"{prefix}{last.name}/{LAST}" if last.folder else str(last.entry["Key"])
    # Out of requests (a page of many folders each needing a skip): resume after the last.
    return ZarrPage(found, found[-1].cursor if found else None)
