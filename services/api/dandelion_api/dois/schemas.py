"""DOI state as the API shows it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dandelion_common.db.enums import DoiState, DoiTarget


class DoiOut(BaseModel):
    doi: str
    version: str | None = Field(description="null for the dandiset's concept DOI")
    target: DoiTarget = Field(description="What DataCite should hold")
    state: DoiState = Field(description="What DataCite held when last asked")
    error: str | None = Field(description="DataCite's refusal, when state is failed")
    updated: datetime
    synced: datetime | None = Field(description="When DataCite last matched the target")
