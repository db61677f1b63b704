"""S3 storage behind one module (aiobotocore): keys, multipart uploads, presigned URLs,
ranged reads. Any S3 server works; SeaweedFS runs locally and in tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from types_aiobotocore_s3 import S3Client

from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.settings import S3Settings
from dandelion_common.sigv4 import UploadPartSigner

EMBARGOED_PREFIX = "embargoed/"


def blob_key(blob_id: uuid.UUID | str, *, embargoed: bool = False) -> str:
    """`blobs/abc/def/abcdef...`: three levels spread keys over S3 prefixes.

    Embargoed blobs live under `embargoed/`, outside the prefix that is readable without a
    signature (as DANDI's public bucket is for open data); unembargo moves them.
    """
    s = str(blob_id)
    key = f"blobs/{s[0:3]}/{s[3:6]}/{s}"
    return EMBARGOED_PREFIX + key if embargoed else key


ZARR_PREFIX = "zarr/"


def zarr_key(zarr_id: uuid.UUID | str, path: str = "") -> str:
    """`zarr/{zarr_id}/{path}` in the zarr bucket (DANDI's layout)."""
    return f"{ZARR_PREFIX}{zarr_id}/{path}"


def manifest_key(dandiset_id: int, version: str, name: str) -> str:
    """`dandisets/000123/0.240101.1200/assets.yaml`: a published version's manifests."""
    return f"dandisets/{dandiset_id:06}/{version}/{name}"


def complete_multipart_body(parts: list[tuple[int, str]]) -> str:
    """The CompleteMultipartUpload XML body for (part_number, etag) pairs."""
    items = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>&quot;{escape(etag.strip(chr(34)))}&quot;</ETag></Part>"
        for n, etag in parts
    )
    header = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{header}<CompleteMultipartUpload>{items}</CompleteMultipartUpload>"


def object_url(settings: S3Settings, key: str) -> str:
    """The unsigned URL of an object (as DANDI lists in contentUrl)."""
    return f"{settings.presign_endpoint_url.rstrip('/')}/{settings.bucket}/{key}"


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # without quotes


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


@dataclass(frozen=True)
class MultipartUploadInfo:
    key: str
    upload_id: str
    initiated: datetime  # UTC


def _error_code(exc: BaseException | None) -> str:
    """The S3 error code of a botocore ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _is_unavailable(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status) >= 500
    return isinstance(exc, (BotoCoreError, OSError))


class S3Storage:
    """One bucket. `_client` does the work; `_presigner` signs URLs for the public endpoint."""

    def __init__(
        self,
        settings: S3Settings,
        client: S3Client,
        presigner: S3Client,
        stack: AsyncExitStack,
        *,
        bucket: str | None = None,
    ) -> None:
        self.settings = settings
        self.bucket = bucket or settings.bucket
        self._client = client
        self._presigner = presigner
        self._stack = stack
        self._owner = bucket is None  # a sibling (`zarr`) shares the clients and never closes them
        self._zarr: S3Storage | None = None

    @property
    def zarr(self) -> S3Storage:
        """The zarr bucket (versioned), on the same clients."""
        if self._zarr is None:
            name = self.settings.zarr_bucket_name
            self._zarr = S3Storage(
                self.settings, self._client, self._presigner, self._stack, bucket=name
            )
        return self._zarr

    @classmethod
    async def connect(cls, settings: S3Settings) -> S3Storage:
        session = get_session()
        config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=settings.timeout_seconds,
            read_timeout=settings.timeout_seconds,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=settings.max_connections,
        )
        stack = AsyncExitStack()

        async def client_for(endpoint_url: str) -> S3Client:
            return await stack.enter_async_context(
                session.create_client(
                    "s3",
                    endpoint_url=endpoint_url,
                    region_name=settings.region,
                    aws_access_key_id=settings.access_key_id,
                    aws_secret_access_key=settings.secret_access_key.get_secret_value(),
                    config=config,
                )
            )

        client = await client_for(settings.endpoint_url)
        presigner = client
        if settings.presign_endpoint_url != settings.endpoint_url:
            presigner = await client_for(settings.presign_endpoint_url)
        return cls(settings, client, presigner, stack)

    async def close(self) -> None:
        if self._owner:
            await self._stack.aclose()

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError, EndpointConnectionError, OSError) as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable(f"S3 {method} failed: {exc}") from exc
            raise StorageError(f"S3 {method} failed: {exc}") from exc

    async def ping(self) -> None:
        await self._call("head_bucket")

    async def ensure_bucket(self) -> None:
        """Create the bucket when missing; the main bucket also creates the zarr bucket, with
        versioning on (dev stack, tests; production buckets are the operator's)."""
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            await self._call("create_bucket")
        if self._owner:
            await self.zarr.ensure_bucket()
            await self.zarr._call(
                "put_bucket_versioning", VersioningConfiguration={"Status": "Enabled"}
            )

    async def versioning_enabled(self) -> bool:
        response = await self._call("get_bucket_versioning")
        return bool(response.get("Status") == "Enabled")

    async def create_multipart_upload(self, key: str, *, tagging: str | None = None) -> str:
        extra = {"Tagging": tagging} if tagging else {}
        response = await self._call("create_multipart_upload", Key=key, **extra)
        return str(response["UploadId"])

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        await self._call("abort_multipart_upload", Key=key, UploadId=upload_id)

    async def abort_multipart_upload_if_exists(self, key: str, upload_id: str) -> bool:
        """Abort an upload; False if S3 does not know it (some servers, SeaweedFS among them,
        also accept aborting an upload that is already aborted or completed)."""
        try:
            await self.abort_multipart_upload(key, upload_id)
        except StorageError as exc:
            if _error_code(exc.__cause__) in ("NoSuchUpload", "404", "NotFound"):
                return False
            raise
        return True

    async def list_multipart_uploads(
        self, prefix: str = "", *, page_size: int = 1000
    ) -> AsyncIterator[MultipartUploadInfo]:
        """The multipart uploads in progress under `prefix`, in the server's order."""
        markers: dict[str, str] = {}
        seen: set[tuple[tuple[str, str], ...]] = set()
        while True:
            page = await self._call(
                "list_multipart_uploads", Prefix=prefix, MaxUploads=page_size, **markers
            )
            for item in page.get("Uploads", []):
                yield MultipartUploadInfo(
                    key=str(item["Key"]),
                    upload_id=str(item["UploadId"]),
                    initiated=item["Initiated"].astimezone(UTC),
                )
            # AWS sends both next markers; SeaweedFS only NextUploadIdMarker (and pages by it).
            markers = {
                name: str(page[f"Next{name}"])
                for name in ("KeyMarker", "UploadIdMarker")
                if page.get(f"Next{name}")
            }
            position = tuple(sorted(markers.items()))
            if not page.get("IsTruncated") or not markers or position in seen:
                return
            seen.add(position)

    async def presign_upload_part(self, key: str, upload_id: str, part_number: int) -> str:
        return await self._presign(
            "upload_part",
            {"Key": key, "UploadId": upload_id, "PartNumber": part_number},
            self.settings.upload_url_expiry_seconds,
        )

    def presign_upload_parts(self, key: str, upload_id: str, part_numbers: list[int]) -> list[str]:
        """Presigned UploadPart URLs for many parts at once, byte-identical to botocore's."""
        settings = self.settings
        signer = UploadPartSigner(
            endpoint_url=settings.presign_endpoint_url,
            region=settings.region,
            access_key=settings.access_key_id,
            secret_key=settings.secret_access_key.get_secret_value(),
            bucket=self.bucket,
            key=key,
            upload_id=upload_id,
            expires=settings.upload_url_expiry_seconds,
            now=datetime.now(UTC),
        )
        return [signer.url(n) for n in part_numbers]

    async def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """Upload one part from this process (tools and benchmarks; clients use presigned URLs)."""
        response = await self._call(
            "upload_part", Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return str(response["ETag"]).strip('"')

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> None:
        body = {"Parts": [{"PartNumber": n, "ETag": f'"{etag}"'} for n, etag in parts]}
        await self._call(
            "complete_multipart_upload", Key=key, UploadId=upload_id, MultipartUpload=body
        )

    async def presign_complete(self, key: str, upload_id: str) -> str:
        return await self._presign(
            "complete_multipart_upload",
            {"Key": key, "UploadId": upload_id},
            self.settings.upload_url_expiry_seconds,
            method="POST",
        )

    async def presign_put(self, key: str, *, content_md5: str, tagging: str | None = None) -> str:
        """A PUT URL for one object (a zarr file) with its base64 MD5 signed, so S3 refuses
        other bytes; `tagging` is signed too, and the client must send it."""
        params: dict[str, Any] = {"Key": key, "ContentMD5": content_md5}
        if tagging:
            params["Tagging"] = tagging
        return await self._presign("put_object", params, self.settings.upload_url_expiry_seconds)

    async def presign_get(
        self,
        key: str,
        *,
        filename: str | None = None,
        expires: int | None = None,
        version_id: str | None = None,
    ) -> str:
        params: dict[str, Any] = {"Key": key}
        if version_id is not None:
            params["VersionId"] = version_id
        if filename is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return await self._presign(
            "get_object", params, expires or self.settings.download_url_expiry_seconds
        )

    async def presign_internal_get(self, key: str, *, expires: int) -> str:
        """A GET URL on the endpoint the services use (workers reading blobs by HTTP range)."""
        return await self._presign("get_object", {"Key": key}, expires, client=self._client)

    async def _presign(
        self,
        op: str,
        params: dict[str, Any],
        expires: int,
        method: str | None = None,
        client: S3Client | None = None,
    ) -> str:
        extra = {"HttpMethod": method} if method else {}
        url = await (client or self._presigner).generate_presigned_url(
            op,
            Params={"Bucket": self.bucket, **params},
            ExpiresIn=expires,
            **extra,
        )
        return str(url)

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"S3 head_object failed: {exc}") from exc
        except (BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"S3 head_object failed: {exc}") from exc
        return ObjectInfo(
            size=int(response["ContentLength"]), etag=str(response["ETag"]).strip('"')
        )

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes `start..end` inclusive, as HTTP Range counts them."""
        response = await self._call("get_object", Key=key, Range=f"bytes={start}-{end}")
        async with response["Body"] as body:
            return bytes(await body.read())

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        await self._call("put_object", Key=key, Body=data, ContentType=content_type)

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=key)

    def object_url(self, key: str) -> str:
        return f"{self.settings.presign_endpoint_url.rstrip('/')}/{self.bucket}/{key}"

    # -- server-side copies and bulk deletes (unembargo moves blobs between prefixes) ---------

    # S3's limits: one CopyObject copies at most 5 GiB; UploadPartCopy parts are 5 MiB..5 GiB
    # (the last may be smaller), at most 10,000 of them.
    MAX_COPY_OBJECT = 5 * 1024**3
    MIN_COPY_PART, MAX_COPY_PART, MAX_COPY_PARTS = 5 * 1024**2, 5 * 1024**3, 10_000
    DEFAULT_COPY_PART = 512 * 1024**2
    COPY_PART_CONCURRENCY = 8
    DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys

    async def copy(self, src: str, dst: str, size: int, *, part_size: int | None = None) -> None:
        """Copy `src` (`size` bytes) to `dst` inside the bucket, leaving the source's tags
        behind. One CopyObject when `part_size` covers the whole object (None: as large as S3
        allows); otherwise one UploadPartCopy per `part_size` bytes."""
        if part_size is None:
            part_size = size if size <= self.MAX_COPY_OBJECT else self.DEFAULT_COPY_PART
        if size <= part_size and size <= self.MAX_COPY_OBJECT:
            await self._call(
                "copy_object",
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                # Tags are copied by default: the embargo tag must not follow the object.
                TaggingDirective="REPLACE",
            )
            return
        await self._copy_multipart(src, dst, size, part_size)

    def _copy_ranges(self, size: int, part_size: int) -> list[tuple[int, int, int]]:
        """(part number, first byte, last byte) of each part of a multipart copy."""
        if not self.MIN_COPY_PART <= part_size <= self.MAX_COPY_PART:
            raise ValueError(f"copy part size {part_size} is outside S3's limits")
        starts = range(0, size, part_size)
        if len(starts) > self.MAX_COPY_PARTS:
            raise ValueError(f"{size} bytes need more than {self.MAX_COPY_PARTS} parts")
        return [(n, start, min(start + part_size, size) - 1) for n, start in enumerate(starts, 1)]

    async def _copy_multipart(self, src: str, dst: str, size: int, part_size: int) -> None:
        ranges = self._copy_ranges(size, part_size)
        upload_id = await self.create_multipart_upload(dst)  # no tagging: the copy is untagged
        gate = asyncio.Semaphore(self.COPY_PART_CONCURRENCY)

        async def copy_part(number: int, first: int, last: int) -> tuple[int, str]:
            async with gate:
                response = await self._call(
                    "upload_part_copy",
                    Key=dst,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": src},
                    CopySourceRange=f"bytes={first}-{last}",
                )
            return number, str(response["CopyPartResult"]["ETag"]).strip('"')

        tasks = [asyncio.ensure_future(copy_part(*r)) for r in ranges]
        try:
            parts = await asyncio.gather(*tasks)
            await self.complete_multipart_upload(dst, upload_id, sorted(parts))
        except BaseException:
            # Stop the other parts before aborting, so none lands in an aborted upload. Best
            # effort: garbage collection aborts an upload left behind under the blob prefixes.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with suppress(StorageError):
                await self.abort_multipart_upload_if_exists(dst, upload_id)
            raise

    # -- listings (zarr archives) ---------------------------------------------------------

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

    async def latest_versions(
        self, prefix: str, *, after: str | None = None
    ) -> AsyncIterator[list[ListedObject]]:
        """Every current object under `prefix` (and after the key `after`) with its version
        id, a page at a time (a versioned bucket: delete markers and older versions are
        skipped)."""
        markers: dict[str, str] = {"KeyMarker": after} if after else {}
        while True:
            response = await self._call(
                "list_object_versions", Prefix=prefix, MaxKeys=self.LIST_PAGE, **markers
            )
            yield [
                ListedObject(
                    key=str(v["Key"]),
                    etag=str(v["ETag"]).strip('"'),
                    size=int(v["Size"]),
                    last_modified=v["LastModified"],
                    # "null": written while versioning was off, so not kept when overwritten.
                    version_id=None if v["VersionId"] == "null" else str(v["VersionId"]),
                )
                for v in response.get("Versions", [])
                if v.get("IsLatest")
            ]
            if not response.get("IsTruncated"):
                return
            markers = {"KeyMarker": str(response["NextKeyMarker"])}
            if response.get("NextVersionIdMarker"):
                markers["VersionIdMarker"] = str(response["NextVersionIdMarker"])

    async def versions(self, prefix: str) -> AsyncIterator[list[ObjectVersion]]:
        """Every version and delete marker under `prefix`, a page at a time, in key order (a
        key's versions may continue on the next page)."""
        paging: dict[str, str] = {}
        while True:
            response = await self._call(
                "list_object_versions", Prefix=prefix, MaxKeys=self.LIST_PAGE, **paging
            )
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
                for v in response.get(listed, [])
            ]
            found.sort(key=lambda v: v.key.encode())  # S3 lists versions and markers apart
            yield found
            if not response.get("IsTruncated"):
                return
            paging = {"KeyMarker": str(response["NextKeyMarker"])}
            if response.get("NextVersionIdMarker"):
                paging["VersionIdMarker"] = str(response["NextVersionIdMarker"])

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

    async def count_versions(self, prefix: str) -> tuple[int, int]:
        """(object versions, delete markers) under `prefix`: what a versioned bucket holds."""
        versions = markers = 0
        paging: dict[str, str] = {}
        while True:
            response = await self._call("list_object_versions", Prefix=prefix, **paging)
            versions += len(response.get("Versions", []))
            markers += len(response.get("DeleteMarkers", []))
            if not response.get("IsTruncated"):
                return versions, markers
            paging = {"KeyMarker": str(response["NextKeyMarker"])}
            if response.get("NextVersionIdMarker"):
                paging["VersionIdMarker"] = str(response["NextVersionIdMarker"])

    async def delete_tags(self, key: str) -> None:
        await self._call("delete_object_tagging", Key=key)

    async def tags(self, key: str) -> dict[str, str]:
        """The object's S3 tags (the embargo tag among them)."""
        response = await self._call("get_object_tagging", Key=key)
        return {str(t["Key"]): str(t["Value"]) for t in response.get("TagSet", [])}

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Delete objects, a thousand per request; a missing key counts as deleted."""
        for start in range(0, len(keys), self.DELETE_BATCH):
            chunk = keys[start : start + self.DELETE_BATCH]
            response = await self._call(
                "delete_objects",
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                message = f"S3 delete_objects failed for {len(errors)} keys, first {first}"
                transient = first.get("Code") in ("InternalError", "SlowDown", "ServiceUnavailable")
                raise (StorageUnavailable if transient else StorageError)(message)
