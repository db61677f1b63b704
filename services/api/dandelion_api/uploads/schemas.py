"""Upload shapes: DANDI's (its two camelCase request keys included)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class Digest(BaseModel):
    algorithm: str
    value: str


class InitializeRequest(BaseModel):
    contentSize: int = Field(ge=1, description="Bytes; zero-byte files cannot be uploaded")
    digest: Digest
    dandiset: str | int = Field(description="Six-digit identifier")


class PartUrl(BaseModel):
    part_number: int
    size: int
    upload_url: str


class InitializeResponse(BaseModel):
    upload_id: uuid.UUID
    parts: list[PartUrl]


class CompletedPart(BaseModel):
    part_number: int = Field(ge=1, le=10_000)
    size: int = Field(ge=0)
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
