"""A deleted dandiset's pages answer 410 with a tombstone naming what was there, not 404.

The API's `/api/dandisets/{id}/` answers 404 for a deleted dandiset as for one that never
existed (DANDI's answer, which the dandi client relies on); its tombstone route, ours and not
DANDI's, tells the two apart. It is asked only once the dandiset route has answered 404, so
a page that exists costs no extra call and a missing one costs exactly one.

The name comes from the API, which gives none for a dandiset deleted while embargoed: that
name was never public, so the page says only which identifier went and when. The message is
plain text, escaped by the error template like every other value.
"""

from __future__ import annotations

from typing import Any

from dandelion_web.client import ArchiveClient, UpstreamNotFound
from dandelion_web.errors import PageGone
from dandelion_web.filters import date

WHAT = (
    "It was deleted before any version of it was published, so it has no citable version "
    "and its files are no longer available here."
)


def message(tombstone: dict[str, Any]) -> str:
    """'Dandiset 000123, “name”, was deleted on 2026-11-25.' (without a name if it had none
    to show)."""
    identifier = str(tombstone["identifier"])
    name = tombstone.get("name")
    named = f"Dandiset {identifier}, “{name}”," if name else f"Dandiset {identifier}"
    return f"{named} was deleted on {date(tombstone.get('deleted'))}."


async def raise_if_gone(archive: ArchiveClient, identifier: str) -> None:
    """Raise `PageGone` if dandiset `identifier` was deleted; return if it never existed."""
    try:
        found = await archive.api(f"/dandisets/{identifier}/tombstone/")
    except UpstreamNotFound:
        return
    raise PageGone(message(found), what=WHAT)
