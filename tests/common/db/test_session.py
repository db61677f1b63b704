"""The engine's error hook: which database failures become OperationalError (a 503 in the API,
a retry in a job) and which connections it drops from the pool."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

from dandelion_common.db.session import _transient_as_operational


def context(original: BaseException, *, pre_ping: bool = False) -> Any:
    return SimpleNamespace(
        original_exception=original,
        is_pre_ping=pre_ping,
        is_disconnect=False,
        statement="SELECT 1",
        parameters=(),
    )


@pytest.mark.parametrize(
    ("original", "disconnect"),
    [
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.QueryCanceledError("canceling statement due to statement timeout"), False),
        (asyncpg.TooManyConnectionsError("sorry, too many clients already"), False),
        # Seen when PostgreSQL shut down under load: its goodbye half-read by asyncpg.
        (asyncpg.InternalClientError("another operation (2) is in progress"), True),
    ],
)
def test_transient_failures_become_operational_errors(
    original: BaseException, disconnect: bool
) -> None:
    ctx = context(original)
    raised = _transient_as_operational(cast(ExceptionContext, ctx))
    assert isinstance(raised, OperationalError)
    assert ctx.is_disconnect is disconnect
    assert raised.connection_invalidated is disconnect


def test_a_wrapped_failure_is_found_by_its_cause() -> None:
    wrapper = RuntimeError("the dialect's own wrapper")
    wrapper.__cause__ = asyncpg.AdminShutdownError("terminating connection")
    assert isinstance(_transient_as_operational(cast(ExceptionContext, context(wrapper))),
                      OperationalError)  # fmt: skip


def test_client_mistakes_stay_what_they_are() -> None:
    ctx = context(asyncpg.UniqueViolationError("duplicate key value"))
    assert _transient_as_operational(cast(ExceptionContext, ctx)) is None
    assert ctx.is_disconnect is False


def test_a_pre_ping_only_marks_the_connection_dead() -> None:
    ctx = context(asyncpg.AdminShutdownError("terminating connection"), pre_ping=True)
    assert _transient_as_operational(cast(ExceptionContext, ctx)) is None
    assert ctx.is_disconnect is True  # the pool replaces it and reconnects
