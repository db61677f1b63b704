"""Audit records: one per state-changing action, as DANDI writes them (api and workers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.models import AuditRecord, User


def record(
    session: AsyncSession, user: User, dandiset_id: int, record_type: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditRecord(
            dandiset_id=dandiset_id,
            username=user.username,
            user_email=user.email,
            user_fullname=f"{user.first_name} {user.last_name}".strip(),
            record_type=record_type,
            details=details,
        )
    )
