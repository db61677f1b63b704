"""Typed job contracts: the only way services name each other's work.

A contract fixes a job's name, its queue and its payload model; producers enqueue a payload,
the consumer registers a handler for the contract. Payloads carry ids, never state: the job
re-reads what it needs, so a job that runs twice (arq is at-least-once) sees the truth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class Queue(StrEnum):
    INGEST = "ingest"
    SEARCH = "search"
    DOI = "doi"

    @property
    def redis_name(self) -> str:
        return f"dandelion:queue:{self.value}"


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class JobContract(Generic[P]):
    name: str
    queue: Queue | str
    payload: type[P]
    # Deterministic job id: arq refuses a second job with the same id while one is known.
    key: Callable[[P], str] | None = None

    @property
    def queue_name(self) -> str:
        return self.queue.redis_name if isinstance(self.queue, Queue) else self.queue

    def job_id(self, payload: P) -> str | None:
        return f"{self.name}:{self.key(payload)}" if self.key else None


class PingPayload(Payload):
    token: str


def ping_contract(queue: Queue) -> JobContract[PingPayload]:
    """Liveness round trip through a worker: `dandelion workers ping` and the stack test."""
    return JobContract("ping", queue, PingPayload, key=lambda p: p.token)


class VersionRevision(Payload):
    version_id: int
    # The version's `modified` when the job was asked for: each revision is validated once,
    # and a job that finds a newer revision leaves it to the newer job.
    revision: str


VALIDATE_VERSION = JobContract(
    "validate_version",
    Queue.INGEST,
    VersionRevision,
    key=lambda p: f"{p.version_id}@{p.revision}",
)


class AssetChecksum(Payload):
    asset_id: uuid.UUID
    # The blob's SHA-256 when the job was asked for. Validation needs it (PublishedAsset
    # requires the digest), so the checksum job asks again once it is known.
    sha256: str | None


VALIDATE_ASSET = JobContract(
    "validate_asset",
    Queue.INGEST,
    AssetChecksum,
    key=lambda p: f"{p.asset_id}@{p.sha256 or 'no-checksum'}",
)


class BlobRef(Payload):
    blob_id: uuid.UUID


COMPUTE_SHA256 = JobContract("sha256", Queue.INGEST, BlobRef, key=lambda p: str(p.blob_id))
