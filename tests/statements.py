"""Counting the SQL statements a request makes, as Django's assertNumQueries does.

A regression that adds a query per row (an N+1) or a round trip per request fails a test
deterministically, where a timing would only drift. Statements are counted on the engine
(every connection of the test, the API's sessions included); the savepoints the test
transaction wraps around each commit are left out, being the harness's, not the code's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@dataclass
class Statements:
    seen: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seen)

    def __str__(self) -> str:
        return "\n".join(f"{n}. {sql[:200]}" for n, sql in enumerate(self.seen, 1))


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[Statements]:
    """The statements run on `engine` inside the block."""
    statements = Statements()

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.lstrip().upper().startswith(HARNESS):
            statements.seen.append(" ".join(sql.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
