"""The one interface both search engines implement, and the helpers they share."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from dandelion_common.web.resources import Probe
from dandelion_search.errors import InvalidCursor
from dandelion_search.schemas import IndexRow, Kind, SearchQuery, SearchResult, Visibility

# Highlight markers around matched words (HTML-safe, as DANDI's UI would render them).
PRE_TAG, POST_TAG = "<mark>", "</mark>"
# Facet counts over more matches than the total cap come from a sample of about this many
# documents, scaled up.
SAMPLE_ROWS = 10_000
SAMPLE_BUCKETS = 10_000


def sample_bucket(document_id: str) -> int:
    """A document's fixed pseudo-random bucket: `bucket < k` is a uniform sample of
    k / SAMPLE_BUCKETS of the documents, the same for every query."""
    digest = hashlib.blake2b(document_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % SAMPLE_BUCKETS


class SearchBackend(Protocol):
    """A search engine holding one index per `Kind`.

    Writes go to the live index unless `target` names an index being rebuilt (see
    `indexer.reindex`). Every write is idempotent: documents are keyed by id.
    """

    async def ensure_schema(self) -> None:
        """Create the live indices if missing (never changes an existing mapping)."""

    async def bulk_upsert(
        self, kind: Kind, rows: Sequence[IndexRow], *, target: str | None = None
    ) -> None: ...

    async def bulk_delete(
        self, kind: Kind, ids: Sequence[str], *, target: str | None = None
    ) -> None: ...

    async def delete_dandisets(
        self, kind: Kind, dandiset_ids: Sequence[int], *, target: str | None = None
    ) -> None:
        """Delete every document of these dandisets (a deleted dandiset's assets)."""

    async def search(self, query: SearchQuery, visibility: Visibility) -> SearchResult: ...

    async def begin_rebuild(self, kind: Kind) -> str:
        """Create an empty index beside the live one; returns its name (the `target`)."""

    async def finish_rebuild(self, kind: Kind, target: str) -> None:
        """Make `target` the live index atomically, then drop the old one."""

    async def abort_rebuild(self, kind: Kind, target: str) -> None:
        """Drop `target` if it exists (an interrupted rebuild)."""

    def readiness(self) -> Mapping[str, Probe]:
        """Checks this engine adds to the search API's readiness (none when its index lives
        in the PostgreSQL the API checks anyway)."""

    async def close(self) -> None: ...


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque cursor holding the last hit's sort values."""
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursor()
    return values
