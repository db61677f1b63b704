"""The audit trail: who changed what, written with every state-changing action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base


class AuditRecord(Base):
    """Who changed what; kept after the dandiset is deleted, hence no foreign key."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    dandiset_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(150))
    user_email: Mapped[str] = mapped_column(String(254))
    user_fullname: Mapped[str] = mapped_column(String(301))
    record_type: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
