"""What every part of `S3Storage` stands on: one bucket, its clients, and the single place
(`_call`) where botocore's failures become our `StorageError` / `StorageUnavailable`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from types_aiobotocore_s3 import S3Client

from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.settings import S3Settings

NOT_FOUND = ("404", "NoSuchKey", "NotFound")


def error_code(exc: BaseException | None) -> str:
    """The S3 error code of a botocore ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _is_unavailable(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status) >= 500
    return isinstance(exc, (BotoCoreError, OSError))


class StorageCore:
    """One bucket. `_client` does the work; `_presigner` signs URLs for the public endpoint."""

    DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys

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

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError, EndpointConnectionError, OSError) as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable(f"S3 {method} failed: {exc}") from exc
            raise StorageError(f"S3 {method} failed: {exc}") from exc

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
