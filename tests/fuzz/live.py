"""A live Dandelion over real HTTP: the api and the search api as uvicorn processes on a
private, committed database, beside the session's real PostgreSQL, Redis and S3.

The in-process test client cannot serve here: schemathesis drives requests synchronously from
Hypothesis, outside the test's event loop, and body-size limits must be met by what a real
HTTP server hands the app (chunked bodies included). `Seeder` writes into the live database
from synchronous tests, on an event loop of its own.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from factories import create_asset, create_blob, create_dandiset, create_user
from localstack import ensure_bucket, s3_settings, service_env
from search.corpus import build_corpus
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import EmbargoStatus, VersionStatus
from dandelion_common.db.migrate import upgrade
from dandelion_common.db.models import (
    AssetBlob,
    Upload,
    User,
    Version,
    VersionAsset,
    ZarrArchive,
    ZarrSnapshot,
    ZarrSnapshotEntry,
)
from dandelion_common.db.session import Database
from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import Child, answers_ok, free_port, wait_until
from dandelion_common.settings import PostgresSettings
from dandelion_common.storage import S3Storage, blob_key, zarr_key
from dandelion_search.backends.postgres import PostgresSearchBackend
from dandelion_search.indexer import drain

PUBLISHED = "0.240102.0304"


@dataclass
class Users:
    """The callers of the live stack and their API keys (a rotated key is replaced here)."""

    ids: dict[str, int]  # by role: "approved", "other" (both approved users), "admin"
    usernames: dict[str, str]
    keys: dict[str, str]


@dataclass
class Targets:
    """Objects for one test to act on, by the values a client sends.

    The approved user owns an open dandiset with a published version, two assets (bytes in
    S3), a spare blob, an unfinished upload and a zarr archive with a snapshot; "other" owns an
    embargoed dandiset with an asset and a zarr archive.
    """

    own_dandiset: str
    foreign_dandiset: str
    asset_ids: list[str]
    foreign_asset_id: str
    spare_blob_id: str
    upload_id: str
    # The approved user's zarr archive (one file) and a snapshot of it; "other"'s archive.
    zarr_ids: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=lambda: ["draft", PUBLISHED])


@dataclass
class LiveStack:
    api: str  # base URL of the api process, without /api
    search: str  # base URL of the search api process
    database: str
    users: Users
    seeder: Seeder


class Seeder:
    """Commits fixtures to the live database (and their bytes to S3) from synchronous code."""

    def __init__(self, servers: ServerUrls, database: str) -> None:
        self.runner = asyncio.Runner()
        self.db = Database.connect(PostgresSettings(url=database), application_name="seeder")
        self.storage = self.runner.run(S3Storage.connect(s3_settings(servers)))

    def close(self) -> None:
        self.runner.run(self.storage.close())
        self.runner.run(self.db.dispose())
        self.runner.close()

    def users(self) -> Users:
        return self.runner.run(self._users())

    def targets(self, users: Users) -> Targets:
        return self.runner.run(self._targets(users))

    async def _users(self) -> Users:
        """The search corpus (its users are the callers), indexed for the search api."""
        async with AsyncSession(self.db.engine, expire_on_commit=False) as session:
            corpus = await build_corpus(session)
            await session.commit()
        await drain(self.db, PostgresSearchBackend(self.db))
        roles = {"approved": corpus.stranger, "other": corpus.owner, "admin": corpus.admin}
        return Users(
            ids={role: user.id for role, user in roles.items()},
            usernames={role: user.username for role, user in roles.items()},
            keys={role: corpus.key_of(user) for role, user in roles.items()},
        )

    async def _targets(self, users: Users) -> Targets:
        async with AsyncSession(self.db.engine, expire_on_commit=False) as session:
            owner = await session.get(User, users.ids["approved"])
            other = await session.get(User, users.ids["other"])
            assert owner is not None
            assert other is not None
            own, draft = await create_dandiset(session, owner=owner)
            assets = [
                await create_asset(
                    session, version=draft, path=f"sub-{n}/sub-{n}_{uuid.uuid4()}.nwb"
                )
                for n in (1, 2)
            ]
            published = Version(
                dandiset_id=own.id,
                version=PUBLISHED,
                name="Published",
                metadata_={"name": "Published", "schemaKey": "Dandiset"},
                status=VersionStatus.PUBLISHED,
            )
            session.add(published)
            await session.flush()
            session.add(
                VersionAsset(version_id=published.id, asset_id=assets[0].id, path=assets[0].path)
            )
            foreign, foreign_draft = await create_dandiset(
                session, owner=other, embargo_status=EmbargoStatus.EMBARGOED
            )
            foreign_asset = await create_asset(
                session, version=foreign_draft, path=f"sub-9/{uuid.uuid4()}.nwb"
            )
            # Blobs uploaded into an embargoed dandiset are embargoed themselves.
            foreign_blob = await session.get(AssetBlob, foreign_asset.blob_id)
            assert foreign_blob is not None
            foreign_blob.embargoed = True
            spare = await create_blob(session, content=f"spare {uuid.uuid4()}".encode())
            upload = Upload(
                multipart_upload_id="not-started",
                etag=f"{uuid.uuid4().hex}-1",
                size=10,
                dandiset_id=own.id,
                user_id=owner.id,
            )
            session.add(upload)
            zarrs = await self._zarrs(session, own.id, foreign.id)
            await session.commit()
            for asset in (*assets, foreign_asset):
                blob = await session.get(AssetBlob, asset.blob_id)
                assert blob is not None
                # create_asset's blob bytes are the path (tests/factories.py).
                key = blob_key(blob.id, embargoed=blob.embargoed)
                await self.storage.put(key, asset.path.encode())
        return Targets(
            own_dandiset=f"{own.id:06}",
            foreign_dandiset=f"{foreign.id:06}",
            asset_ids=[str(a.id) for a in assets],
            foreign_asset_id=str(foreign_asset.id),
            spare_blob_id=str(spare.id),
            upload_id=str(upload.id),
            zarr_ids=zarrs,
        )

    async def _zarrs(self, session: AsyncSession, own_id: int, foreign_id: int) -> list[str]:
        """Zarr ids to aim at: an archive with one file in S3, its snapshot, a foreign one."""
        own = ZarrArchive(dandiset_id=own_id, name=f"sub-1/{uuid.uuid4()}.zarr")
        foreign = ZarrArchive(dandiset_id=foreign_id, name=f"sub-9/{uuid.uuid4()}.zarr")
        session.add_all([own, foreign])
        await session.flush()
        await self.storage.zarr.put(zarr_key(own.id, "0/0"), b"chunk")
        snapshot = ZarrSnapshot(zarr_id=own.id, checksum=f"{'0' * 32}-1--5", file_count=1, size=5)
        session.add(snapshot)
        await session.flush()
        async for objects in self.storage.zarr.latest_versions(zarr_key(own.id)):
            for o in objects:
                assert o.version_id is not None
                session.add(
                    ZarrSnapshotEntry(
                        snapshot_id=snapshot.id,
                        path=o.key.removeprefix(zarr_key(own.id)),
                        s3_version_id=o.version_id,
                        md5=o.etag,
                        size=o.size,
                        last_modified=o.last_modified,
                    )
                )
        return [str(own.id), str(snapshot.id), str(foreign.id)]

    def user(self, role: str = "approved") -> tuple[int, str]:
        """A new approved user (id, API key), or an admin for role "admin"."""

        async def create() -> tuple[int, str]:
            async with AsyncSession(self.db.engine, expire_on_commit=False) as session:
                user, key = await create_user(session, admin=role == "admin")
                await session.commit()
                return user.id, key

        return self.runner.run(create())


@contextmanager
def private_database(servers: ServerUrls) -> Iterator[str]:
    """A migrated database of its own, dropped afterwards: the processes commit for real."""
    name = f"live_{uuid.uuid4().hex[:8]}"
    admin_dsn = servers.postgres.replace("postgresql+asyncpg", "postgresql")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE DATABASE {name}"))
    try:
        url = servers.postgres.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        yield url
    finally:
        asyncio.run(run(f"DROP DATABASE {name} WITH (FORCE)"))


def start_service(
    stack: ExitStack,
    name: str,
    servers: ServerUrls,
    database: str,
    logs: Path,
    extra_env: dict[str, str],
) -> str:
    """Start `dandelion <name>` on a free port; returns its base URL once it is ready."""
    port = free_port()
    env = {**service_env(servers, database, port), **extra_env}
    env["DANDELION_SEARCH_API__PORT"] = str(port)
    child = Child(
        name,
        [sys.executable, "-m", "dandelion_common.cli", name],
        env=env,
        log=logs / f"{name}.log",
        stop_timeout=10,
    )
    child.start()
    stack.callback(child.stop)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers_ok(f"{url}/readyz"), timeout=90, what=f"the {name}", child=child)
    return url


@contextmanager
def live_stack(
    servers: ServerUrls, *, search: bool = True, env: dict[str, str] | None = None
) -> Iterator[LiveStack]:
    """The api (and the search api unless `search` is false) on a fresh database, with
    settings from `env` (`DANDELION_...` variables) over the test defaults."""
    asyncio.run(ensure_bucket(servers))
    with private_database(servers) as database, ExitStack() as stack:
        seeder = Seeder(servers, database)
        stack.callback(seeder.close)
        users = seeder.users()
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dandelion-live-")))
        api = start_service(stack, "api", servers, database, logs, env or {})
        search_url = ""
        if search:
            search_url = start_service(stack, "search-api", servers, database, logs, env or {})
        yield LiveStack(api, search_url, database, users, seeder)
