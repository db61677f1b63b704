"""What the load bench measures inside the stack: the time a request waits for a pooled
database connection (in the API process), and the statements and PostgreSQL time the API
spends per request (pg_stat_statements).

`create_app` is the API app that `dandelion api` serves, with one addition for the bench: a
request's wait for its turn at the pool (dandelion_common.db.turns: where a request queues,
first come first served, when every connection is taken) and the pool's checkout after it
are timed, and `GET /bench/pool-waits/` answers the waits seen since the last call (and
forgets them). The bench serves it in one process (so one answer holds every wait). This is
the queue a request of the mix stands in behind slower ones, measured, not inferred from
latencies; the checkout alone (`checkout_p99_ms`) should be near zero behind the turns.

The API's connections log in as a role of their own (`API_ROLE`), so pg_stat_statements
tells its statements from the workers' (validation, the search drain) on the same database.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool
from starlette.requests import Request
from starlette.responses import JSONResponse

from dandelion_common.db.turns import Turns
from dandelion_common.logging import configure_logging
from dandelion_common.settings import get_settings

API_ROLE = "bench_api"
# Transaction control (and the pool's pre-ping, BEGIN; ";"; ROLLBACK): round trips that are
# no statement of the request's own; the pinned counts (tests/api/test_statements.py) leave
# them out too.
_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|;|$)", re.IGNORECASE)

_waits: list[float] = []  # ms, one per request session's turn, in this process
_checkouts: list[float] = []  # ms, one per checkout from the pool


def _timed_checkout() -> None:
    original = QueuePool._do_get

    def timed(pool: QueuePool) -> Any:
        started = time.perf_counter()
        try:
            return original(pool)
        finally:
            _checkouts.append((time.perf_counter() - started) * 1000)

    QueuePool._do_get = timed  # type: ignore[method-assign,assignment]


def _timed_turns() -> None:
    original = Turns.take

    async def timed(turns: Turns) -> None:
        started = time.perf_counter()
        try:
            await original(turns)
        finally:
            _waits.append((time.perf_counter() - started) * 1000)

    Turns.take = timed  # type: ignore[method-assign,assignment]


async def _pool_waits(_: Request) -> JSONResponse:
    waits, _waits[:] = list(_waits), []
    checkouts, _checkouts[:] = list(_checkouts), []
    summary = wait_summary(waits)
    summary["checkout_p99_ms"] = wait_summary(checkouts)["p99_ms"]
    return JSONResponse(summary)


def wait_summary(waits: list[float]) -> dict[str, float]:
    if len(waits) < 2:
        return {"checkouts": len(waits), "p50_ms": 0.0, "p99_ms": 0.0, "waited_share": 0.0}
    return {
        "checkouts": len(waits),
        "p50_ms": statistics.median(waits),
        "p99_ms": statistics.quantiles(waits, n=100)[98],
        "waited_share": sum(w > 1.0 for w in waits) / len(waits),  # queued, not just taken
    }


def create_app() -> FastAPI:
    """`dandelion_api.app.create_app` with the pool's checkouts timed (see the docstring)."""
    from dandelion_api.app import create_app as api_app

    configure_logging(get_settings().logging, service="api")
    _timed_checkout()
    _timed_turns()
    app = api_app()
    app.add_route("/bench/pool-waits/", _pool_waits)
    return app


def as_api_role(url: str) -> str:
    return make_url(url).set(username=API_ROLE).render_as_string(hide_password=False)


@dataclass(frozen=True)
class DatabaseWork:
    """The API's statements over a phase (transaction control apart), and their time."""

    statements: int
    control: int
    exec_ms: float

    def per(self, requests: int) -> tuple[float, float, float]:
        n = max(1, requests)
        return self.statements / n, self.control / n, self.exec_ms / n


class StatementCounter:
    """pg_stat_statements on the scratch database, if the server preloads it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.available = False

    @classmethod
    async def open(cls, dsn: str) -> StatementCounter:
        counter = cls(await asyncpg.connect(dsn))
        preload = await counter.conn.fetchval("SHOW shared_preload_libraries")
        if "pg_stat_statements" in preload:
            await counter.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            counter.available = True
        await counter.conn.execute(
            f"DO $$ BEGIN CREATE ROLE {API_ROLE} LOGIN SUPERUSER; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        return counter

    async def reset(self) -> None:
        if self.available:
            await self.conn.execute("SELECT pg_stat_statements_reset()")

    async def read(self) -> DatabaseWork | None:
        if not self.available:
            return None
        rows = await self.conn.fetch(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1 "
            "AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            API_ROLE,
        )
        control = sum(r["calls"] for r in rows if _CONTROL.match(r["query"]))
        total = sum(r["calls"] for r in rows)
        return DatabaseWork(total - control, control, sum(r["total_exec_time"] for r in rows))

    async def close(self) -> None:
        await self.conn.close()
