"""Search engines behind one interface: OpenSearch when configured, else PostgreSQL."""

from __future__ import annotations

from dandelion_common.db.session import Database
from dandelion_common.settings import Settings
from dandelion_search.backends.base import SearchBackend


def make_backend(settings: Settings, db: Database) -> SearchBackend:
    """OpenSearch when `settings.opensearch.url` is set, else the PostgreSQL search tables."""
    if settings.opensearch.url:
        from dandelion_search.backends.opensearch import OpenSearchBackend

        return OpenSearchBackend.connect(settings.opensearch)
    from dandelion_search.backends.postgres import PostgresSearchBackend

    return PostgresSearchBackend(db)


__all__ = ["SearchBackend", "make_backend"]
