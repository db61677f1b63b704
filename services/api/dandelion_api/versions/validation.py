"""Asking the ingest worker to validate a draft revision (after the transaction commits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.jobs import enqueue_after_commit
from dandelion_common.jobs.contracts import VALIDATE_VERSION, VersionRevision


def request_validation(session: AsyncSession, version_id: int, modified: datetime) -> None:
    """After commit, the ingest worker validates this revision of the draft."""
    payload = VersionRevision(version_id=version_id, revision=modified.isoformat())
    enqueue_after_commit(session, VALIDATE_VERSION, payload)
