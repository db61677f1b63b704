"""The sha256 job's resumable hashing: OpenSSL's SHA256_CTX saved and restored equals hashlib at
any split, unusable checkpoints are refused, and the job continues from a usable one."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from arq.worker import Retry
from conftest import ingest_context
from factories import create_blob
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import AssetBlob
from dandelion_common.db.session import Database
from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage, blob_key, ranges
from dandelion_ingest import checksum
from dandelion_ingest.checksum import Checkpoint, ResumableSha256, checkpoint_key
from dandelion_ingest.resources import ingest_resources

DATA = os.urandom(10_000)
CHUNK = 256 * 1024
READ_RANGE = ranges._read_range
Store = Callable[[bytes], Awaitable[AssetBlob]]


def state_after(data: bytes) -> bytes:
    hasher = ResumableSha256()
    hasher.update(data)
    return hasher.state()


@pytest.mark.parametrize("split", [0, 1, 63, 64, 65, 127, 4096, 4097, 9_999, 10_000])
def test_saved_and_restored_state_equals_hashlib_at_any_split(split: int) -> None:
    restored = ResumableSha256(state_after(DATA[:split]))
    assert restored.bytes_hashed == split
    restored.update(memoryview(bytearray(DATA[split:])))  # the job hashes views of bytearrays
    assert restored.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_state_is_openssls_112_byte_context_and_survives_a_digest() -> None:
    hasher = ResumableSha256()
    hasher.update(DATA[:100])
    state = hasher.state()
    assert len(state) == checksum.STATE_BYTES == 112
    assert hasher.hexdigest() == hashlib.sha256(DATA[:100]).hexdigest()
    assert hasher.state() == state == ResumableSha256(state).state()  # the digest took a copy
    hasher.update(memoryview(DATA)[100:])  # read-only views work too
    assert hasher.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_state_past_512_mib_counts_its_length_in_both_words() -> None:
    block = bytearray(os.urandom(64 * 1024 * 1024))
    ours, theirs = ResumableSha256(), hashlib.sha256()
    for _ in range(8):  # 2**32 bits: the length's low word wraps
        ours.update(block)
        theirs.update(block)
    ours.update(DATA[:70])
    restored = ResumableSha256(ours.state())
    assert restored.bytes_hashed == 512 * 1024 * 1024 + 70
    restored.update(DATA[70:])
    theirs.update(DATA)
    assert restored.hexdigest() == theirs.hexdigest()


def test_a_state_that_is_not_a_sha256_context_is_refused() -> None:
    state = bytearray(state_after(DATA[:70]))
    state[-4:] = (20).to_bytes(4, "little")  # md_len of SHA-1, not SHA-256
    with pytest.raises(ValueError, match="not the state"):
        ResumableSha256(bytes(state))
    with pytest.raises(ValueError, match="112 bytes"):
        ResumableSha256(state_after(DATA[:70])[:-1])


def record(**changes: Any) -> str:
    """A checkpoint of DATA's first 4097 bytes for blob ("etag-1", 10_000), with `changes`."""
    fields = json.loads(Checkpoint("etag-1", 10_000, 4097, state_after(DATA[:4097]), 0).dumps())
    return json.dumps({**fields, **changes})


def test_checkpoint_round_trip() -> None:
    loaded = Checkpoint.loads(record(), etag="etag-1", size=10_000)
    assert loaded == Checkpoint("etag-1", 10_000, 4097, state_after(DATA[:4097]), 0)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        record(v=2),
        record(etag="etag-2"),
        record(size=9_999),
        record(offset=4096),  # the state covers 4097 bytes
        record(state=state_after(DATA[:4097]).hex()),  # not base64
        record(state="AAAA"),  # base64 of 3 bytes
        record(resumed_from=4097),
        record(resumed_from=-1),
        record(etag=None, size="x"),
    ],
)
def test_unusable_checkpoints_are_refused(raw: str) -> None:
    assert Checkpoint.loads(raw, etag="etag-1", size=10_000) is None


@pytest.fixture
def ctx(
    settings: Settings, db: Database, job_queue: JobQueue, storage: S3Storage
) -> dict[str, Any]:
    return ingest_context(settings, db, job_queue, storage)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many chunks and checkpoints from a few MiB."""
    monkeypatch.setattr(ranges, "CHUNK_BYTES", CHUNK)
    monkeypatch.setattr(checksum, "CHECKPOINT_BYTES", 2 * CHUNK)


@pytest.fixture
async def stored(session: AsyncSession, storage: S3Storage) -> AsyncIterator[Store]:
    """Puts bytes in S3 as a new blob without a checksum; deletes the objects afterwards."""
    keys: list[str] = []

    async def put(content: bytes) -> AssetBlob:
        blob = await create_blob(session, content=content)
        blob.sha256 = None
        await session.flush()
        keys.append(blob_key(blob.id))
        await storage.put(keys[-1], content)
        return blob

    yield put
    for key in keys:
        await storage.delete(key)


def counting_reads(monkeypatch: pytest.MonkeyPatch, *, fail_from: int | None = None) -> list[int]:
    """The offsets the job reads, in order; reads at or past `fail_from` fail as S3 outages."""
    offsets: list[int] = []

    async def counted(session: Any, storage: S3Storage, key: str, offset: int, view: Any) -> None:
        if fail_from is not None and offset >= fail_from:
            raise StorageUnavailable("S3 is down")
        offsets.append(offset)
        await READ_RANGE(session, storage, key, offset, view)

    monkeypatch.setattr(ranges, "_read_range", counted)
    return offsets


async def saved_checkpoint(ctx: dict[str, Any], blob: AssetBlob) -> Checkpoint | None:
    raw = await ingest_resources(ctx).queue.redis.get(checkpoint_key(blob.id))
    return None if raw is None else Checkpoint.loads(raw, etag=blob.etag, size=blob.size)


async def run_job(ctx: dict[str, Any], blob: AssetBlob) -> Any:
    return await checksum.sha256.coroutine(ctx, blob_id=str(blob.id))


@pytest.mark.usefixtures("small_chunks")
async def test_the_job_streams_many_chunks_and_is_idempotent(
    ctx: dict[str, Any], stored: Store, session: AsyncSession
) -> None:
    content = os.urandom(5 * CHUNK + 7)  # a ragged end
    blob = await stored(content)
    expected = hashlib.sha256(content).hexdigest()
    assert await run_job(ctx, blob) == expected
    await session.refresh(blob)
    assert blob.sha256 == expected
    assert (
        await ingest_resources(ctx).queue.redis.get(checkpoint_key(blob.id)) is None
    )  # cleaned up
    assert await run_job(ctx, blob) == expected


async def test_the_job_continues_from_a_checkpoint(
    ctx: dict[str, Any], stored: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(3 * CHUNK + 11)
    blob = await stored(content)
    # The checkpoint hashed other first bytes than S3 holds: only a resumed run ends with them.
    offset, other = 100_003, os.urandom(100_003)
    checkpoint = Checkpoint(blob.etag, blob.size, offset, state_after(other), 0)
    await ingest_resources(ctx).queue.redis.set(checkpoint_key(blob.id), checkpoint.dumps())
    reads = counting_reads(monkeypatch)
    assert await run_job(ctx, blob) == hashlib.sha256(other + content[offset:]).hexdigest()
    assert reads[0] == offset


@pytest.mark.parametrize("mismatch", ["etag", "garbage"])
async def test_the_job_starts_over_when_the_checkpoint_does_not_fit(
    ctx: dict[str, Any], stored: Store, mismatch: str
) -> None:
    content = os.urandom(CHUNK + 5)
    blob = await stored(content)
    foreign = Checkpoint("other-etag", blob.size, 64, state_after(os.urandom(64)), 0).dumps()
    raw = foreign if mismatch == "etag" else "\x00 not a checkpoint"
    await ingest_resources(ctx).queue.redis.set(checkpoint_key(blob.id), raw)
    assert await run_job(ctx, blob) == hashlib.sha256(content).hexdigest()


@pytest.mark.usefixtures("small_chunks")
async def test_an_outage_leaves_a_checkpoint_and_the_retry_continues_from_it(
    ctx: dict[str, Any], stored: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(6 * CHUNK + 3)
    blob = await stored(content)
    counting_reads(monkeypatch, fail_from=3 * CHUNK)
    with pytest.raises(Retry):
        await run_job(ctx, blob)
    saved = await saved_checkpoint(ctx, blob)
    assert saved is not None
    assert (saved.offset, saved.resumed_from) == (3 * CHUNK, 0)
    reads = counting_reads(monkeypatch)
    assert await run_job(ctx, blob) == hashlib.sha256(content).hexdigest()
    assert reads == [3 * CHUNK, 4 * CHUNK, 5 * CHUNK, 6 * CHUNK]


@pytest.mark.usefixtures("small_chunks")
async def test_a_run_near_the_job_timeout_stops_and_the_next_try_continues(
    ctx: dict[str, Any], stored: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(4 * CHUNK + 1)
    blob = await stored(content)
    deadline = checksum._deadline
    monkeypatch.setattr(checksum, "_deadline", lambda settings: 0.0)  # long past
    with pytest.raises(Retry):
        await run_job(ctx, blob)
    saved = await saved_checkpoint(ctx, blob)
    assert saved is not None
    assert saved.offset == CHUNK  # a run out of time stops after its first chunk
    monkeypatch.setattr(checksum, "_deadline", deadline)
    assert await run_job(ctx, blob) == hashlib.sha256(content).hexdigest()


@pytest.mark.usefixtures("small_chunks")
async def test_without_libcrypto_the_job_is_correct_but_keeps_no_checkpoint(
    ctx: dict[str, Any], stored: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(5 * CHUNK)
    blob = await stored(content)
    monkeypatch.setattr(checksum, "openssl", lambda: None)
    counting_reads(monkeypatch, fail_from=4 * CHUNK)
    with pytest.raises(Retry):
        await run_job(ctx, blob)
    assert await ingest_resources(ctx).queue.redis.get(checkpoint_key(blob.id)) is None
    counting_reads(monkeypatch)
    assert await run_job(ctx, blob) == hashlib.sha256(content).hexdigest()


async def test_a_missing_object_fails_without_retry(ctx: dict[str, Any]) -> None:
    with pytest.raises(StorageError) as raised:
        await checksum.stream_sha256(ingest_resources(ctx).storage, blob_key(uuid.uuid4()), 10)
    assert not isinstance(raised.value, StorageUnavailable)


async def test_a_blob_moved_by_an_unembargo_while_read_is_read_again(
    ctx: dict[str, Any], stored: Store, session: AsyncSession, storage: S3Storage
) -> None:
    blob = await stored(b"moved while hashed")  # the row and the object say: open
    stale = checksum._Blob(blob.id, blob_key(blob.id, embargoed=True), blob.size, blob.etag)

    with pytest.raises(Retry):  # the key the job read is gone, and the row names another
        await checksum.checksum_of(ctx, stale)

    await storage.delete(blob_key(blob.id))
    current = checksum._Blob(blob.id, blob_key(blob.id), blob.size, blob.etag)
    with pytest.raises(StorageError):  # gone for good: not retried for ever
        await checksum.checksum_of(ctx, current)
