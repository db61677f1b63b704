"""`S3Storage`, composed of the parts in this package: connecting, the zarr sibling bucket,
health, and creating buckets for the dev stack and tests."""

from __future__ import annotations

from contextlib import AsyncExitStack

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from types_aiobotocore_s3 import S3Client

from dandelion_common.settings import S3Settings
from dandelion_common.storage.copies import ServerCopies
from dandelion_common.storage.listing import Listings
from dandelion_common.storage.objects import Objects
from dandelion_common.storage.ranges import RangeReads


class S3Storage(Objects, ServerCopies, Listings, RangeReads):
    """One bucket, and through `zarr` the zarr bucket on the same clients."""

    _zarr: S3Storage | None = None

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
