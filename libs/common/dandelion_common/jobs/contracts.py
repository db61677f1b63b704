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
    # Coalesce bursts: requests within one window share a job that runs when the window
    # closes, so it sees every change committed before its request (needs `key`).
    debounce_seconds: float = 0.0
    # arq's try limit; None keeps the worker's default. Jobs that defer themselves while a
    # resource is busy need more.
    max_tries: int | None = None
    # How long arq keeps the result, refusing the same job id meanwhile; None keeps the
    # worker's default (an hour). 0 for jobs that may rightly be asked again at once.
    keep_result_seconds: float | None = None

    @property
    def queue_name(self) -> str:
        return self.queue.redis_name if isinstance(self.queue, Queue) else self.queue

    def window(self, now: float) -> int:
        return int(now // self.debounce_seconds)

    def job_id(self, payload: P, *, now: float | None = None) -> str | None:
        if self.key is None:
            return None
        if self.debounce_seconds and now is not None:
            return f"{self.name}:{self.key(payload)}@{self.window(now)}"
        return f"{self.name}:{self.key(payload)}"


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


class AssetRef(Payload):
    """An asset to validate. Extra fields are ignored, so jobs queued before the payload was
    cut down to the id (they also carried `sha256` and `extracted`) still run."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    asset_id: uuid.UUID


# Asked for exactly once per asset (dandelion_ingest.readiness): when it is created on a blob
# that is ready, or when its blob becomes ready. So the asset id alone keys the job, and a
# reconcile's resend is refused while the first request is known.
VALIDATE_ASSET = JobContract(
    "validate_asset", Queue.INGEST, AssetRef, key=lambda p: str(p.asset_id)
)


class BlobRef(Payload):
    blob_id: uuid.UUID


COMPUTE_SHA256 = JobContract("sha256", Queue.INGEST, BlobRef, key=lambda p: str(p.blob_id))

# The NWB metadata of a new blob (every blob is tried: a non-HDF5 file fails fast, and an
# asset's `.nwb` path decides later whether that failure matters).
EXTRACT_NWB = JobContract("extract", Queue.INGEST, BlobRef, key=lambda p: str(p.blob_id))

# pynwb validation and nwbinspector findings: advisory, slower, after extraction.
INSPECT_NWB = JobContract(
    "inspect", Queue.INGEST, BlobRef, key=lambda p: str(p.blob_id), max_tries=500
)


class VersionRef(Payload):
    version_id: int


# The draft's assetsSummary, recomputed after asset changes; a burst of uploads costs one run.
SUMMARIZE_VERSION = JobContract(
    "summarize_version",
    Queue.INGEST,
    VersionRef,
    key=lambda p: str(p.version_id),
    debounce_seconds=2.0,
)


class PublishRequest(Payload):
    dandiset_id: int
    user_id: int


# The draft (status Publishing) becomes an immutable version; one publish per dandiset at a time.
# No result is kept: a dandiset published, edited and published again within the hour must
# get its second job (a kept result would refuse the id, leaving the draft Publishing).
PUBLISH_VERSION = JobContract(
    "publish",
    Queue.INGEST,
    PublishRequest,
    key=lambda p: str(p.dandiset_id),
    keep_result_seconds=0,
)

# dandiset.yaml, assets.yaml and the JSON-LD manifests of a published version, in S3.
WRITE_MANIFESTS = JobContract(
    "write_manifests", Queue.INGEST, VersionRef, key=lambda p: str(p.version_id)
)


class DoiRef(Payload):
    doi: str


# Bring one DOI at DataCite to its row's target. Debounced: a burst of edits is one write.
# The doi worker's reconcile cron re-asks for every DOI not yet at its target, so a DataCite
# outage longer than the tries only delays registration.
SYNC_DOI = JobContract(
    "sync_doi", Queue.DOI, DoiRef, key=lambda p: p.doi, debounce_seconds=1.0, max_tries=20
)


class UnembargoRequest(Payload):
    dandiset_id: int
    user_id: int  # who asked: the audit record names them


# Move an UNEMBARGOING dandiset's blobs out of the embargoed prefix, then open it. One job per
# dandiset; it resumes where a killed or deferred run stopped, so it may take many tries (an
# S3 outage, or a huge dandiset continued past the worker's job timeout).
UNEMBARGO = JobContract(
    "unembargo", Queue.INGEST, UnembargoRequest, key=lambda p: str(p.dandiset_id), max_tries=50
)

# An asset of a dandiset just opened, validated again: VALIDATE_ASSET's job under an id of its
# own, since the asset's earlier validation may still hold VALIDATE_ASSET's id (arq keeps a
# result, and refuses that id, for an hour).
REVALIDATE_UNEMBARGOED_ASSET = JobContract(
    VALIDATE_ASSET.name, Queue.INGEST, AssetRef, key=lambda p: f"{p.asset_id}@open"
)


class ZarrRef(Payload):
    zarr_id: uuid.UUID


# A finalized Zarr archive (status Uploaded): list its current objects, compute DANDI's zarr
# checksum, count and size, freeze them as a snapshot, and point the draft's zarr assets at it.
# Restartable: a million-object listing is checkpointed, so a killed run continues.
# The API finalizes only a Pending archive, and files cannot change while it is Uploaded or
# Ingesting, so a second finalize always deserves a run: no result is kept to refuse it.
INGEST_ZARR = JobContract(
    "ingest_zarr",
    Queue.INGEST,
    ZarrRef,
    key=lambda p: str(p.zarr_id),
    max_tries=50,
    keep_result_seconds=0,
)


class ZarrAssetRef(AssetRef):
    """A zarr asset and the snapshot it was pointed at. The snapshot only keys the job: the
    handler (VALIDATE_ASSET's, which parses this as an `AssetRef`) reads the asset's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    snapshot_id: uuid.UUID


# A zarr asset pointed at a new snapshot, validated again: VALIDATE_ASSET's job, keyed by the
# snapshot, so each ingest validates once.
VALIDATE_ZARR_ASSET = JobContract(
    VALIDATE_ASSET.name,
    Queue.INGEST,
    ZarrAssetRef,
    key=lambda p: f"{p.asset_id}@zarr:{p.snapshot_id}",
)


class MailRef(Payload):
    mail_id: int


# Send one `outgoing_mail` row. It runs on the doi queue: that worker is the one that waits
# out outside services, and a mail server down for hours is retried there for as long (500
# tries, a minute apart at most). The row, not arq, says whether it was sent; no result is
# kept, since the row alone makes a second run a no-op.
SEND_MAIL = JobContract(
    "send_mail",
    Queue.DOI,
    MailRef,
    key=lambda p: str(p.mail_id),
    max_tries=500,
    keep_result_seconds=0,
)
