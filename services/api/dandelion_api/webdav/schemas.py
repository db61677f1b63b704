"""The atpath query, parsed as DANDI's DRF serializer does, and its result shapes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from dandelion_common.errors import FieldErrors, NotFound

# DRF's BooleanField spellings; anything else is "Must be a valid boolean."
_TRUE = frozenset(
    {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1"}
)
_FALSE = frozenset(
    {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0"}
)
_DIGITS = re.compile(r"^[0-9]+$")
_MAX_DANDISET_ID = 999_999


class AtPathQuery(BaseModel):
    dandiset_id: int
    version_id: str
    path: str
    metadata: bool
    children: bool


def _text(value: str | None, *, required: bool) -> str | list[str]:
    """A DRF CharField: trimmed, never blank; a string, or that field's error messages."""
    if value is None or (value == "" and not required):
        return ["This field is required."] if required else ""
    if "\x00" in value:
        return ["Null characters are not allowed."]
    if not value.strip():
        return ["This field may not be blank."]
    return value.strip()


def _flag(value: str | None) -> bool | list[str]:
    # An empty value counts as absent, as DRF does for query strings.
    if value is None or value == "" or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    return ["Must be a valid boolean."]


async def at_path_query(
    dandiset_id: Annotated[str | None, Query(description="Dandiset id, e.g. 000123")] = None,
    version_id: Annotated[str | None, Query(description="draft or 0.YYMMDD.HHMM")] = None,
    path: Annotated[
        str | None, Query(description="Path in the version; root if empty; `dir/` = folder only")
    ] = None,
    metadata: Annotated[str | None, Query(description="Include asset metadata")] = None,
    children: Annotated[str | None, Query(description="List a folder's direct children")] = None,
) -> AtPathQuery:
    """400 with every field's errors at once, as DRF reports them."""
    parsed: dict[str, Any] = {
        "dandiset_id": _text(dandiset_id, required=True),
        "version_id": _text(version_id, required=True),
        "path": _text(path, required=False),
        "metadata": _flag(metadata),
        "children": _flag(children),
    }
    errors = {name: value for name, value in parsed.items() if isinstance(value, list)}
    if errors:
        raise FieldErrors(errors)
    # DANDI looks the version up by int(dandiset_id), so "123" finds 000123; an id that is no
    # number or too large for any dandiset is a version that does not exist (DANDI: a 500).
    number = parsed["dandiset_id"]
    if not _DIGITS.match(number) or int(number) > _MAX_DANDISET_ID:
        raise NotFound("No Version matches the given query.")
    return AtPathQuery.model_validate({**parsed, "dandiset_id": int(number)})


AtPathQueryDep = Annotated[AtPathQuery, Depends(at_path_query)]


class FolderResource(BaseModel):
    path: str
    total_assets: int
    total_size: int


class AssetResource(BaseModel):
    """DANDI's PathAssetSerializer; `metadata` appears only when it was asked for."""

    asset_id: uuid.UUID
    path: str
    created: datetime
    modified: datetime
    zarr: uuid.UUID | None = None
    blob: uuid.UUID | None
    metadata: dict[str, Any] | None = Field(default=None, exclude_if=lambda value: value is None)
    size: int


class PathResult(BaseModel):
    type: Literal["asset", "folder"]
    resource: AssetResource | FolderResource
