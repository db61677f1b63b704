"""Zarr shapes, with DANDI's field names (S3's capitalised ones in file listings)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from dandelion_common.db.enums import ZarrStatus

MAX_NAME_LENGTH = 512
MAX_PATH_LENGTH = 1024  # S3's key limit; the key's own limit is checked in bytes
MAX_FILES = 1000  # per request, as S3's batch delete
DANDISET_PATTERN = r"^\d{6}$"


class ZarrCreate(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="The asset path")
    dandiset: str = Field(pattern=DANDISET_PATTERN, description="Six digits, e.g. 000123")


class ZarrOut(BaseModel):
    """DANDI's ZarrSerializer; a snapshot id answers with the snapshot's numbers."""

    name: str
    dandiset: str
    zarr_id: uuid.UUID
    status: ZarrStatus
    checksum: str | None
    file_count: int
    size: int


class FileUpload(BaseModel):
    path: str = Field(min_length=1, max_length=MAX_PATH_LENGTH)
    base64md5: str = Field(description="The base64 of the file's 16-byte MD5 digest")


class FileDelete(BaseModel):
    path: str = Field(min_length=1, max_length=MAX_PATH_LENGTH)


UploadBatch = list[FileUpload]
DeleteBatch = list[FileDelete]


# The names are S3's (ListObjectsV2), which DANDI passes through.
class FileEntry(BaseModel):
    Key: str = Field(description="Path relative to the zarr root")
    LastModified: datetime
    ETag: str = Field(description="The file's MD5, hex, without quotes")
    Size: int


class FileListing(BaseModel):
    next: str | None = Field(
        description="This URL with `after` set to the last key; null at the end"
    )
    results: list[FileEntry]
