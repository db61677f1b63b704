"""Upload shapes: DANDI's (its two camelCase request keys included)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, StrictInt


class Digest(BaseModel):
    algorithm: str
    value: str


# Sizes and part numbers are StrictInt: pydantic would read `true` as 1, where DRF (and the
# schema's integer type) refuse a boolean.
class InitializeRequest(BaseModel):
    contentSize: StrictInt = Field(ge=1, description="Bytes; zero-byte files cannot be uploaded")
    digest: Digest
    dandiset: str | StrictInt = Field(description="Six-digit identifier")


class PartUrl(BaseModel):
    part_number: int
    size: int
    upload_url: str


class InitializeResponse(BaseModel):
    upload_id: uuid.UUID
    parts: list[PartUrl]


class CompletedPart(BaseModel):
    part_number: StrictInt = Field(ge=1, le=10_000)
    size: StrictInt = Field(ge=0)
    etag: str


class CompleteRequest(BaseModel):
    parts: list[CompletedPart] = Field(min_length=1)


class CompleteResponse(BaseModel):
    complete_url: str
    body: str


class BlobOut(BaseModel):
    blob_id: uuid.UUID
    etag: str
    sha256: str | None
    size: int
