"""Path parameters with DANDI's URL patterns (a mismatch is a 404, as a URL that routes
nowhere), and dates in query parameters as DRF reads them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from dandelion_common.errors import NotFound
from dandelion_common.identifiers import ASSET, DANDISET, VERSION


async def dandiset_id(
    dandiset_id: Annotated[str, Path(description="Six digits, e.g. 000123")],
) -> int:
    if not DANDISET.match(dandiset_id):
        raise NotFound()
    return int(dandiset_id)


async def version_id(version: Annotated[str, Path(description="draft or 0.YYMMDD.HHMM")]) -> str:
    if not VERSION.match(version):
        raise NotFound()
    return version


async def asset_id(asset_id: Annotated[str, Path(description="Asset UUID (v4)")]) -> uuid.UUID:
    if not ASSET.match(asset_id):
        raise NotFound()
    return uuid.UUID(asset_id)


DandisetId = Annotated[int, Depends(dandiset_id)]
VersionId = Annotated[str, Depends(version_id)]
AssetId = Annotated[uuid.UUID, Depends(asset_id)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _iso_only(message: str) -> BeforeValidator:
    """Pydantic also reads a number as a Unix time; DRF, and the documented `date`/`date-time`
    formats, take ISO 8601 only."""

    def check(value: object) -> object:
        if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
            raise PydanticCustomError("iso_8601", message)
        return value

    return BeforeValidator(check)


IsoDate = Annotated[
    date, _iso_only("Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
]
IsoDateTime = Annotated[
    datetime,
    _iso_only(
        "Datetime has wrong format. Use one of these formats instead: "
        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
    ),
]
