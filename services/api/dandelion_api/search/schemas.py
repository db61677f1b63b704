"""Shapes of DANDI's search endpoints."""

from __future__ import annotations

from dandelion_api.dandisets.schemas import DandisetListItem


class DandisetSearchResult(DandisetListItem):
    """A list item plus, per facet used, how many of its assets pass that facet."""

    asset_counts: dict[str, int]
