"""Refusals about a dandiset as a whole."""

from __future__ import annotations

from dandelion_common.errors import BadRequest


class UnembargoInProgress(BadRequest):
    """UNEMBARGOING refuses every write (metadata, assets, uploads, zarrs, owners, deletion)
    until the unembargo job has opened the dandiset."""

    def __init__(self) -> None:
        super().__init__("Dandiset modification not allowed during unembargo")
