"""DOIs we own at DataCite: the api and the publish job record what DataCite should hold, the doi
worker makes it so."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base, string_enum
from dandelion_common.db.enums import DoiState, DoiTarget


class Doi(Base):
    """A DOI we own at DataCite: a dandiset's concept DOI (`version` None) or a published
    version's. Rows outlive their dandiset or version, since a findable DOI is hidden, never
    deleted; the doi worker moves DataCite from `state` to `target`."""

    __tablename__ = "dois"

    doi: Mapped[str] = mapped_column(Text, primary_key=True)
    dandiset_id: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[DoiTarget] = mapped_column(string_enum(DoiTarget, "doi_target"))
    state: Mapped[DoiState] = mapped_column(
        string_enum(DoiState, "doi_state"), server_default=DoiState.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    error_status: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    synced: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
