"""The sha256 job: one streaming pass over a new blob, resumable after a crash, then the assets
waiting for it.

Speed: the object comes from `S3Storage.object_chunks` (pipelined ranged GETs into a few reused
buffers; `dandelion_common.storage.ranges` has the measurements) and is hashed in a thread, which
overlaps the reads because OpenSSL hashes without holding the GIL.

Resumption: hashlib cannot export its state, so the digest runs on OpenSSL's own SHA256_CTX
through ctypes (the libcrypto hashlib itself uses, at the same speed). Every CHECKPOINT_BYTES the
struct's bytes and the offset they cover go to Redis; a run that finds a checkpoint for the same
blob (etag and size) with a consistent state continues from it instead of from byte 0.
"""

from __future__ import annotations

import asyncio
import base64
import ctypes
import ctypes.util
import functools
import hashlib
import importlib.util
import json
import logging
import sys
import time
import uuid
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

from arq.connections import ArqRedis
from arq.worker import Retry

from dandelion_common.db.models import AssetBlob
from dandelion_common.errors import StorageError, StorageUnavailable
from dandelion_common.jobs.contracts import COMPUTE_SHA256, BlobRef
from dandelion_common.jobs.worker import Context, handler, job_session
from dandelion_common.settings import WorkerSettings
from dandelion_common.storage import S3Storage, blob_key
from dandelion_ingest.readiness import settle
from dandelion_ingest.resources import ingest_resources

logger = logging.getLogger("dandelion.ingest.checksum")

CHECKPOINT_BYTES = 256 * 1024 * 1024
CHECKPOINT_TTL_SECONDS = 3 * 24 * 3600
CHECKPOINT_VERSION = 1
RETRY_SECONDS = 10

Bytes = bytes | bytearray | memoryview


class _Sha256Ctx(ctypes.Structure):
    """OpenSSL's SHA256_CTX (openssl/sha.h): a plain struct of 32-bit words, so its bytes are
    the whole state. 112 bytes wherever SHA_LONG is `unsigned int` (x86-64, aarch64 Linux)."""

    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("Nl", ctypes.c_uint32),  # message length in bits, low word
        ("Nh", ctypes.c_uint32),  # ... and high word
        ("data", ctypes.c_uint32 * 16),  # the partial block
        ("num", ctypes.c_uint32),  # bytes in the partial block
        ("md_len", ctypes.c_uint32),
    ]


STATE_BYTES = ctypes.sizeof(_Sha256Ctx)


@dataclass(frozen=True)
class _OpenSSL:
    init: Any
    update: Any
    final: Any


def _libcrypto_candidates() -> list[str]:
    # First hashlib's own extension: looking the symbols up through it finds the libcrypto it
    # links (same OpenSSL, already loaded). Then what the dynamic linker finds, except on macOS,
    # where loading the system's unversioned libcrypto aborts the process.
    spec = importlib.util.find_spec("_hashlib")  # absent from Pythons built without OpenSSL
    names = [spec.origin] if spec and spec.origin else []
    found = ctypes.util.find_library("crypto")
    if found and sys.platform != "darwin":
        names.append(found)
    return list(dict.fromkeys([*names, "libcrypto.so.3"]))


@functools.cache
def openssl() -> _OpenSSL | None:
    """libcrypto's legacy SHA256_* calls, or None: then checksums cannot resume after a crash."""
    for name in _libcrypto_candidates():
        try:
            lib = ctypes.CDLL(name)  # CDLL calls release the GIL while OpenSSL hashes
            calls = _OpenSSL(lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final)
        except (OSError, AttributeError):
            continue
        calls.init.argtypes = [ctypes.c_void_p]
        calls.update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        calls.final.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        return calls
    logger.warning("no libcrypto with SHA256_Init: sha256 jobs restart from 0 after a crash")
    return None


class Sha256(Protocol):
    def update(self, data: Bytes) -> None: ...
    def hexdigest(self) -> str: ...
    def state(self) -> bytes | None: ...


class ResumableSha256:
    """SHA-256 whose state can be saved (`state()`) and continued (`ResumableSha256(state)`)."""

    def __init__(self, state: bytes | None = None) -> None:
        calls = openssl()
        if calls is None:
            raise RuntimeError("libcrypto's SHA256_* calls are not available")
        self._calls = calls
        if state is None:
            self._ctx = _Sha256Ctx()
            calls.init(ctypes.byref(self._ctx))
        else:
            self._ctx = _restore(state)

    @property
    def bytes_hashed(self) -> int:
        return int((self._ctx.Nh << 32) | self._ctx.Nl) >> 3

    def update(self, data: Bytes) -> None:
        if isinstance(data, bytes):
            self._calls.update(ctypes.byref(self._ctx), data, len(data))
            return
        view = memoryview(data).cast("B")
        if view.readonly:
            view = memoryview(bytearray(view))
        buffer = (ctypes.c_char * view.nbytes).from_buffer(view)  # no copy of the bytes
        self._calls.update(ctypes.byref(self._ctx), buffer, view.nbytes)

    def hexdigest(self) -> str:
        final = _Sha256Ctx.from_buffer_copy(self._ctx)  # SHA256_Final wipes the context it gets
        out = ctypes.create_string_buffer(32)
        self._calls.final(out, ctypes.byref(final))
        return out.raw.hex()

    def state(self) -> bytes:
        return bytes(self._ctx)


def _restore(state: bytes) -> _Sha256Ctx:
    if len(state) != STATE_BYTES:
        raise ValueError(f"a SHA256_CTX has {STATE_BYTES} bytes, not {len(state)}")
    ctx = _Sha256Ctx.from_buffer_copy(state)
    hashed = ((ctx.Nh << 32) | ctx.Nl) >> 3
    if ctx.md_len != 32 or ctx.Nl % 8 or ctx.num != hashed % 64:
        raise ValueError("not the state of a SHA-256 over whole bytes")
    return ctx


class _PlainSha256:
    """hashlib, when libcrypto is missing: the same digest, but a crash restarts from byte 0."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, data: Bytes) -> None:
        self._digest.update(data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def state(self) -> None:
        return None


def new_sha256() -> Sha256:
    return ResumableSha256() if openssl() else _PlainSha256()


@dataclass(frozen=True)
class Checkpoint:
    """How far a run got: `state` is the SHA-256 state after the blob's first `offset` bytes."""

    etag: str
    size: int
    offset: int
    state: bytes
    # Where the run that wrote it began (0: from the start), so a restart's resumption shows.
    resumed_from: int

    def dumps(self) -> str:
        record = {
            "v": CHECKPOINT_VERSION,
            "etag": self.etag,
            "size": self.size,
            "offset": self.offset,
            "state": base64.b64encode(self.state).decode(),
            "resumed_from": self.resumed_from,
        }
        return json.dumps(record)

    @classmethod
    def loads(cls, raw: bytes | str, *, etag: str, size: int) -> Checkpoint | None:
        """The checkpoint in `raw` if it is for this blob and consistent, else None."""
        if openssl() is None:
            return None
        try:
            record = json.loads(raw)
            if record["v"] != CHECKPOINT_VERSION:
                return None
            checkpoint = cls(
                etag=str(record["etag"]),
                size=int(record["size"]),
                offset=int(record["offset"]),
                state=base64.b64decode(record["state"], validate=True),
                resumed_from=int(record["resumed_from"]),
            )
            hashed = ResumableSha256(checkpoint.state).bytes_hashed
        except (ValueError, KeyError, TypeError):  # JSON, base64 and state errors are ValueErrors
            return None
        same_blob = (checkpoint.etag, checkpoint.size) == (etag, size)
        in_order = 0 <= checkpoint.resumed_from < checkpoint.offset == hashed <= size
        return checkpoint if same_blob and in_order else None


def checkpoint_key(blob_id: uuid.UUID) -> str:
    return f"dandelion:sha256:checkpoint:{blob_id}"


@dataclass(frozen=True)
class _Blob:
    id: uuid.UUID
    key: str
    size: int
    etag: str


async def _load_checkpoint(redis: ArqRedis, blob: _Blob) -> Checkpoint | None:
    raw = await redis.get(checkpoint_key(blob.id))
    if raw is None:
        return None
    checkpoint = Checkpoint.loads(raw, etag=blob.etag, size=blob.size)
    if checkpoint is None:
        logger.warning("sha256 ignores an unusable checkpoint", extra={"blob_id": str(blob.id)})
    return checkpoint


class Progress:
    """A hasher and the offset it reached; `advance` hashes the next chunk in a thread."""

    def __init__(self, hasher: Sha256 | None = None, offset: int = 0) -> None:
        self.hasher = hasher or new_sha256()
        self.offset = offset

    async def advance(self, view: memoryview) -> None:
        await asyncio.to_thread(self.hasher.update, view)
        self.offset += len(view)


class _OutOfTime(Exception):
    """The run is close to arq's job timeout; the next try continues from the checkpoint."""


class _Checkpointed(Progress):
    """Progress that leaves a checkpoint every CHECKPOINT_BYTES and stops at `deadline`."""

    def __init__(
        self, redis: ArqRedis, blob: _Blob, resume: Checkpoint | None, deadline: float
    ) -> None:
        if resume is None:
            super().__init__()
        else:
            super().__init__(ResumableSha256(resume.state), resume.offset)
        self.redis, self.blob, self.deadline = redis, blob, deadline
        self.resumed_from = self.saved_at = self.offset

    async def advance(self, view: memoryview) -> None:
        await super().advance(view)
        if self.offset - self.saved_at >= CHECKPOINT_BYTES:
            await self.save()
        if self.offset < self.blob.size and time.monotonic() > self.deadline:
            raise _OutOfTime

    async def save(self) -> None:
        """Call only between chunks: the state must be that of exactly `offset` bytes."""
        state = self.hasher.state()
        if state is None or self.offset == self.saved_at:
            return
        checkpoint = Checkpoint(
            self.blob.etag, self.blob.size, self.offset, state, self.resumed_from
        )
        key = checkpoint_key(self.blob.id)
        await self.redis.set(key, checkpoint.dumps(), ex=CHECKPOINT_TTL_SECONDS)
        self.saved_at = self.offset


async def stream_sha256(
    storage: S3Storage, key: str, size: int, progress: Progress | None = None
) -> str:
    """SHA-256 of an object read once, in order, continuing from `progress` if given."""
    progress = progress or Progress()
    chunks = storage.object_chunks(key, size, start=progress.offset)
    async with aclosing(chunks):
        async for view in chunks:
            await progress.advance(view)
    return progress.hasher.hexdigest()


def _deadline(settings: WorkerSettings) -> float:
    # The job has arq's worker-wide timeout; stop a little before it to keep the work done.
    timeout = settings.job_timeout_seconds
    return time.monotonic() + timeout - min(60.0, timeout / 10)


async def _checksum(ctx: Context, blob: _Blob) -> str:
    """The blob's SHA-256, from its checkpoint if one fits; arq retries interrupted runs."""
    resources = ingest_resources(ctx)
    redis: ArqRedis = resources.queue.redis
    resume = await _load_checkpoint(redis, blob)
    if resume is not None:
        logger.info(
            "sha256 resumes from a checkpoint",
            extra={"blob_id": str(blob.id), "offset": resume.offset},
        )
    progress = _Checkpointed(redis, blob, resume, _deadline(resources.settings.worker))
    try:
        checksum = await stream_sha256(resources.storage, blob.key, blob.size, progress)
    except (StorageUnavailable, _OutOfTime) as exc:
        await progress.save()  # between chunks here, so the state matches the offset
        defer = RETRY_SECONDS if isinstance(exc, StorageUnavailable) else None
        extra = {"blob_id": str(blob.id), "offset": progress.offset, "reason": repr(exc)}
        logger.info("sha256 pauses; arq runs it again", extra=extra)
        raise Retry(defer=defer) from exc
    hashed = progress.offset - progress.resumed_from
    extra = {"blob_id": str(blob.id), "resumed_from": progress.resumed_from, "bytes_hashed": hashed}
    logger.info("sha256 computed", extra=extra)
    return checksum


async def checksum_of(ctx: Context, blob: _Blob) -> str:
    """`_checksum`, retried when an unembargo moved the object while it was read."""
    try:
        return await _checksum(ctx, blob)
    except StorageError as exc:
        async with job_session(ctx) as session:
            now = await session.get(AssetBlob, blob.id)
        if now is not None and blob_key(now.id, embargoed=now.embargoed) != blob.key:
            raise Retry(defer=1) from exc
        raise


@handler(COMPUTE_SHA256)
async def sha256(ctx: Context, payload: BlobRef) -> str:
    """Checksum a new blob; if its extraction is done too, the blob is ready and its Pending
    assets are asked for (readiness.settle).

    One commit per step and no transaction held across the S3 read (minutes for a large
    blob): the blob is looked up in one transaction, its checksum recorded in another, under
    the blob's row lock, where readiness is decided.
    """
    async with job_session(ctx) as session:
        blob = await session.get(AssetBlob, payload.blob_id)
        if blob is None:
            return "gone"
        if blob.sha256:
            return blob.sha256  # already done (arq may run a job twice)
        key = blob_key(blob.id, embargoed=blob.embargoed)
        target = _Blob(blob.id, key, blob.size, blob.etag)
    checksum = await checksum_of(ctx, target)
    async with job_session(ctx) as session:
        blob = await session.get(AssetBlob, payload.blob_id, with_for_update=True)
        if blob is None:
            return "gone"
        blob.sha256 = checksum
        await settle(session, blob)
    # After the commit: a crash before this line leaves a checkpoint that expires unused.
    await ingest_resources(ctx).queue.redis.delete(checkpoint_key(target.id))
    return checksum
