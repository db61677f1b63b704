"""Listings of the zarr bucket: a page of current objects (the API's file listing) and, through
one ListObjectVersions paging loop, current versions (snapshots), every version and delete
marker (garbage collection), their counts, and deleting versions for good."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dandelion_common.errors import StorageError
from dandelion_common.storage.core import StorageCore


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing; `version_id` only from `latest_versions`."""

    key: str
    etag: str  # without quotes
    size: int
    last_modified: datetime
    version_id: str | None = None


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a key in a versioned bucket (an object, or a delete marker)."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    size: int = 0
    delete_marker: bool = False


def _current(v: dict[str, Any]) -> ListedObject:
    return ListedObject(
        key=str(v["Key"]),
        etag=str(v["ETag"]).strip('"'),
        size=int(v["Size"]),
        last_modified=v["LastModified"],
        # "null": written while versioning was off, so not kept when overwritten.
        version_id=None if v["VersionId"] == "null" else str(v["VersionId"]),
    )


def _versions(page: dict[str, Any]) -> list[ObjectVersion]:
    found = [
        ObjectVersion(
            key=str(v["Key"]),
            version_id=str(v["VersionId"]),
            is_latest=bool(v.get("IsLatest")),
            last_modified=v["LastModified"],
            size=int(v.get("Size", 0)),
            delete_marker=marker,
        )
        for marker, listed in ((False, "Versions"), (True, "DeleteMarkers"))
        for v in page.get(listed, [])
    ]
    found.sort(key=lambda v: v.key.encode())  # S3 lists versions and markers apart
    return found


class Listings(StorageCore):
    """The listing calls of `S3Storage`."""

    LIST_PAGE = 1000  # S3's most keys per listing request

    async def list_page(
        self, prefix: str, *, start_after: str | None = None, limit: int = LIST_PAGE
    ) -> tuple[list[ListedObject], bool]:
        """One page of current objects under `prefix`, in key order, after `start_after`;
        and whether more follow."""
        extra = {"StartAfter": start_after} if start_after else {}
        response = await self._call(
            "list_objects_v2", Prefix=prefix, MaxKeys=min(limit, self.LIST_PAGE), **extra
        )
        objects = [
            ListedObject(
                key=str(o["Key"]),
                etag=str(o["ETag"]).strip('"'),
                size=int(o["Size"]),
                last_modified=o["LastModified"],
            )
            for o in response.get("Contents", [])
        ]
        return objects, bool(response.get("IsTruncated"))

    async def _version_pages(
        self, prefix: str, *, after: str | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Every ListObjectVersions answer under `prefix` (after the key `after`), in order:
        the one paging loop of the version listings below."""
        markers: dict[str, str] = {"KeyMarker": after} if after else {}
        while True:
            page = await self._call(
                "list_object_versions", Prefix=prefix, MaxKeys=self.LIST_PAGE, **markers
            )
            yield page
            if not page.get("IsTruncated"):
                return
            markers = {"KeyMarker": str(page["NextKeyMarker"])}
            if page.get("NextVersionIdMarker"):
                markers["VersionIdMarker"] = str(page["NextVersionIdMarker"])

    async def latest_versions(
        self, prefix: str, *, after: str | None = None
    ) -> AsyncIterator[list[ListedObject]]:
        """Every current object under `prefix` (and after the key `after`) with its version
        id, a page at a time (a versioned bucket: delete markers and older versions are
        skipped)."""
        async with aclosing(self._version_pages(prefix, after=after)) as pages:
            async for page in pages:
                yield [_current(v) for v in page.get("Versions", []) if v.get("IsLatest")]

    async def versions(self, prefix: str) -> AsyncIterator[list[ObjectVersion]]:
        """Every version and delete marker under `prefix`, a page at a time, in key order (a
        key's versions may continue on the next page)."""
        async with aclosing(self._version_pages(prefix)) as pages:
            async for page in pages:
                yield _versions(page)

    async def count_versions(self, prefix: str) -> tuple[int, int]:
        """(object versions, delete markers) under `prefix`: what a versioned bucket holds."""
        versions = markers = 0
        async with aclosing(self._version_pages(prefix)) as pages:
            async for page in pages:
                versions += len(page.get("Versions", []))
                markers += len(page.get("DeleteMarkers", []))
        return versions, markers

    async def delete_versions(self, versions: Sequence[tuple[str, str]]) -> None:
        """Delete (key, version id) pairs for good, a thousand per request."""
        for start in range(0, len(versions), self.DELETE_BATCH):
            chunk = versions[start : start + self.DELETE_BATCH]
            objects = [{"Key": key, "VersionId": version} for key, version in chunk]
            response = await self._call(
                "delete_objects", Delete={"Objects": objects, "Quiet": True}
            )
            if errors := response.get("Errors") or []:
                message = f"S3 delete_objects failed for {len(errors)} versions, first {errors[0]}"
                raise StorageError(message)
