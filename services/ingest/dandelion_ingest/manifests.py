"""A published version's manifests in S3, as DANDI writes them under `dandisets/{id}/{v}/`:
`dandiset.yaml` and `dandiset.jsonld` (the version's metadata), `assets.yaml` and
`assets.jsonld` (every asset's metadata), `collection.jsonld` (the asset ids).

The asset lists are streamed: assets are read in batches, serialised in a thread and sent as
multipart parts, so a version of a million assets needs a few parts in memory, not the whole
file. Writing again overwrites the same keys with the same content (the job may run twice).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus
from dandelion_common.db.models import (
    Asset,
    AssetBlob,
    Dandiset,
    Version,
    VersionAsset,
    ZarrSnapshot,
)
from dandelion_common.jobs.contracts import WRITE_MANIFESTS, VersionRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.metadata import any_asset_full_metadata
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, manifest_key
from dandelion_ingest.resources import ingest_resources

BATCH = 2000
PART_BYTES = 16 * 1024 * 1024  # S3 parts must be at least 5 MiB, except the last
YAML = "application/x-yaml"
JSONLD = "application/ld+json"


def _yaml(documents: Any) -> str:
    dumped: str = yaml.dump(documents, Dumper=yaml.CSafeDumper, sort_keys=False)
    return dumped


class _StreamedObject:
    """One S3 object written part by part (a plain PUT when it stays small)."""

    def __init__(self, storage: S3Storage, key: str, content_type: str) -> None:
        self.storage, self.key, self.content_type = storage, key, content_type
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[tuple[int, str]] = []

    async def write(self, text: str) -> None:
        self.buffer += text.encode()
        if len(self.buffer) >= PART_BYTES:
            await self._send_part()

    async def _send_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = await self.storage.create_multipart_upload(self.key)
        number = len(self.parts) + 1
        etag = await self.storage.upload_part(self.key, self.upload_id, number, bytes(self.buffer))
        self.parts.append((number, etag))
        self.buffer.clear()

    async def close(self) -> None:
        if self.upload_id is None:
            await self.storage.put(self.key, bytes(self.buffer), content_type=self.content_type)
            return
        if self.buffer:
            await self._send_part()
        await self.storage.complete_multipart_upload(self.key, self.upload_id, self.parts)

    async def abort(self) -> None:
        if self.upload_id is not None:
            await self.storage.abort_multipart_upload_if_exists(self.key, self.upload_id)


async def _asset_batches(
    session: AsyncSession, settings: Settings, version: Version
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every asset's document: a blob's, or a zarr's with the snapshot the version holds."""
    dandiset = await session.get(Dandiset, version.dandiset_id)
    embargoed = dandiset is not None and dandiset.embargo_status is not EmbargoStatus.OPEN
    rows = await session.stream(
        select(Asset, AssetBlob, ZarrSnapshot)
        .join(VersionAsset, VersionAsset.asset_id == Asset.id)
        .outerjoin(AssetBlob, AssetBlob.id == Asset.blob_id)
        .outerjoin(ZarrSnapshot, ZarrSnapshot.id == Asset.zarr_snapshot_id)
        .where(VersionAsset.version_id == version.id)
        .order_by(VersionAsset.path)
        .execution_options(yield_per=BATCH)
    )
    async for partition in rows.partitions(BATCH):
        yield [
            any_asset_full_metadata(settings, asset, blob, snapshot, zarr_embargoed=embargoed)
            for asset, blob, snapshot in partition
        ]


class _Lists:
    """assets.yaml, assets.jsonld and collection.jsonld, written side by side."""

    def __init__(self, storage: S3Storage, dandiset_id: int, version: str) -> None:
        def streamed(name: str, content_type: str) -> _StreamedObject:
            return _StreamedObject(storage, manifest_key(dandiset_id, version, name), content_type)

        self.yaml = streamed("assets.yaml", YAML)
        self.jsonld = streamed("assets.jsonld", JSONLD)
        self.collection = streamed("collection.jsonld", JSONLD)
        self.first = True

    @property
    def objects(self) -> list[_StreamedObject]:
        return [self.yaml, self.jsonld, self.collection]

    async def start(self, version_metadata: dict[str, Any]) -> None:
        head = {
            "@context": version_metadata.get("@context"),
            "id": version_metadata.get("id"),
            "@type": "prov:Collection",
        }
        await self.collection.write(json.dumps(head)[:-1] + ', "hasMember": [')
        await self.jsonld.write("[")

    async def add(self, documents: list[dict[str, Any]]) -> None:
        def render() -> tuple[str, str, str]:
            separator = "" if self.first else ","
            jsonld = separator + ",".join(json.dumps(d) for d in documents)
            members = separator + ",".join(json.dumps(d["id"]) for d in documents)
            return _yaml(documents), jsonld, members

        as_yaml, as_jsonld, members = await asyncio.to_thread(render)
        self.first = self.first and not documents
        await self.yaml.write(as_yaml)
        await self.jsonld.write(as_jsonld)
        await self.collection.write(members)

    async def finish(self) -> None:
        if self.first:  # an empty version: "[]" in YAML too
            await self.yaml.write("[]\n")
        await self.jsonld.write("]")
        await self.collection.write("]}")
        for written in self.objects:
            await written.close()


async def write_manifests(
    session: AsyncSession, settings: Settings, storage: S3Storage, version: Version
) -> None:
    metadata = version.metadata_
    yaml_key = manifest_key(version.dandiset_id, version.version, "dandiset.yaml")
    jsonld_key = manifest_key(version.dandiset_id, version.version, "dandiset.jsonld")
    await storage.put(yaml_key, _yaml(metadata).encode(), content_type=YAML)
    await storage.put(jsonld_key, json.dumps(metadata).encode(), content_type=JSONLD)
    lists = _Lists(storage, version.dandiset_id, version.version)
    try:
        await lists.start(metadata)
        async for documents in _asset_batches(session, settings, version):
            await lists.add(documents)
        await lists.finish()
    except BaseException:
        for written in lists.objects:  # no multipart upload is left behind
            await written.abort()
        raise


@handler(WRITE_MANIFESTS)
async def manifests(ctx: Context, payload: VersionRef) -> str:
    resources = ingest_resources(ctx)
    settings = resources.settings
    async with job_session(ctx) as session:
        version = await session.get(Version, payload.version_id)
        if version is None or version.version == "draft":
            return "gone"
        await write_manifests(session, settings, resources.storage, version)
    return f"{version.dandiset_id:06}/{version.version}"
