"""Single objects: metadata, writes, deletes (one or a thousand per request), tags, and the
presigned URLs clients download and upload zarr files with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.storage.core import NOT_FOUND, StorageCore, error_code
from dandelion_common.storage.keys import bucket_url


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # without quotes


class Objects(StorageCore):
    """The single-object calls of `S3Storage`."""

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                return None
            raise StorageError(f"S3 head_object failed: {exc}") from exc
        except (BotoCoreError, OSError) as exc:
            raise StorageUnavailable(f"S3 head_object failed: {exc}") from exc
        return ObjectInfo(
            size=int(response["ContentLength"]), etag=str(response["ETag"]).strip('"')
        )

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        await self._call("put_object", Key=key, Body=data, ContentType=content_type)

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=key)

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

    async def delete_tags(self, key: str) -> None:
        await self._call("delete_object_tagging", Key=key)

    def object_url(self, key: str) -> str:
        return bucket_url(self.settings, self.bucket, key)

    async def presign_get(
        self,
        key: str,
        *,
        filename: str | None = None,
        disposition: Literal["attachment", "inline"] = "attachment",
        content_type: str | None = None,
        expires: int | None = None,
        version_id: str | None = None,
    ) -> str:
        """A GET URL for one object; with `filename`, S3 answers it with a Content-Disposition
        (`disposition`, saved or shown in the browser), with `content_type` as that type."""
        params: dict[str, Any] = {"Key": key}
        if version_id is not None:
            params["VersionId"] = version_id
        if filename is not None:
            params["ResponseContentDisposition"] = f'{disposition}; filename="{filename}"'
        if content_type is not None:
            params["ResponseContentType"] = content_type
        return await self._presign(
            "get_object", params, expires or self.settings.download_url_expiry_seconds
        )

    async def presign_put(self, key: str, *, content_md5: str, tagging: str | None = None) -> str:
        """A PUT URL for one object (a zarr file) with its base64 MD5 signed, so S3 refuses
        other bytes; `tagging` is signed too, and the client must send it."""
        params: dict[str, Any] = {"Key": key, "ContentMD5": content_md5}
        if tagging:
            params["Tagging"] = tagging
        return await self._presign("put_object", params, self.settings.upload_url_expiry_seconds)
