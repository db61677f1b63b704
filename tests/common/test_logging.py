"""Logs are one JSON object per line, with `extra=` fields kept as keys; under `dandelion up`
the console is a short summary for a person and the full JSON log goes to a file, and the
recurring ticks (the search drain's cron every second, arq's heartbeat) are debug records."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arq.cron import CronJob, cron
from arq.worker import func

from dandelion_common.jobs.queue import JobQueue
from dandelion_common.jobs.worker import build_worker
from dandelion_common.logging import (
    HumanFormatter,
    JsonFormatter,
    RoutineArqLines,
    configure_logging,
    wants_color,
)
from dandelion_common.settings import ConsoleLog, LoggingSettings, Settings

CLOCK = r"\d\d:\d\d:\d\d"


def test_records_render_as_json_lines() -> None:
    record = logging.makeLogRecord(
        {
            "name": "dandelion.api",
            "levelname": "WARNING",
            "msg": "slow %s",
            "args": ("query",),
            "dandiset": "000123",
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "slow query"
    assert (entry["level"], entry["logger"], entry["dandiset"]) == (
        "WARNING",
        "dandelion.api",
        "000123",
    )
    assert "args" not in entry
    assert "msg" not in entry


def test_exceptions_are_kept_in_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exc_info"]


def record(name: str, level: int, msg: str, *args: object, **fields: Any) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    for key, value in {"service": "api", **fields}.items():
        setattr(made, key, value)
    return made


def human(entry: logging.LogRecord, *, color: bool = False) -> str:
    return HumanFormatter(color=color).format(entry)


def test_a_request_reads_as_method_path_status_and_milliseconds() -> None:
    request = record(
        "dandelion.http",
        logging.INFO,
        "request",
        method="GET",
        path="/api/dandisets/000123/",
        route="/api/dandisets/{dandiset_id}/",
        status=200,
        duration_ms=12.34,
    )
    assert re.fullmatch(rf"{CLOCK} api +GET /api/dandisets/000123/ 200 12ms", human(request))


def test_a_job_reads_as_its_function_outcome_and_duration() -> None:
    fields = {"function": "sha256", "outcome": "completed", "duration_s": 1.5, "job_id": "j"}
    line = human(record("dandelion.jobs", logging.INFO, "job finished", **fields, job_try=2))
    assert line.endswith(" job sha256 completed in 1.50s (try 2)")
    assert "job_id" not in line


def test_other_events_show_their_fields_and_warnings_their_level_and_logger() -> None:
    line = human(
        record("dandelion.errors", logging.WARNING, "storage unavailable", error="S3 down")
    )
    assert line.endswith(" WARNING dandelion.errors: storage unavailable error='S3 down'")
    assert "\x1b" not in line
    painted = human(record("dandelion.errors", logging.ERROR, "unhandled error"), color=True)
    assert "\x1b[1;31mERROR dandelion.errors: unhandled error\x1b[0m" in painted
    assert "\x1b" not in human(record("dandelion.http", logging.INFO, "ok"), color=True)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colours_only_on_a_terminal_that_wants_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert wants_color(Terminal())
    assert not wants_color(io.StringIO())  # a pipe, a file, `make run | tee`
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_color(Terminal())


def test_the_console_is_json_unless_asked_otherwise() -> None:
    assert LoggingSettings().console_log is ConsoleLog.JSON
    assert LoggingSettings(json_format=False).console_log is ConsoleLog.TEXT
    assert LoggingSettings(console=ConsoleLog.SUMMARY).console_log is ConsoleLog.SUMMARY


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    arq_worker = logging.getLogger("arq.worker")
    saved = (root.handlers[:], root.level, access.level, arq_worker.filters[:])
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level = saved[0], saved[1]
    access.setLevel(saved[2])
    arq_worker.filters[:] = saved[3]


# arq's own calls (arq/worker.py): a scheduled job is named alone, a queued one "<id>:<name>".
def arq_lines() -> None:
    arq = logging.getLogger("arq.worker")
    arq.info("%6.2fs → %s(%s)%s", 0.91, "drain_outbox_tick", "", "")
    arq.info("%6.2fs ← %s ● %s", 0.01, "drain_outbox_tick", "0")
    arq.info("recording health: %s", "Dec-07 15:34:03 j_complete=10 j_failed=0")
    arq.info("%6.2fs → %s(%s)%s", 0.05, "5f2c:sha256", "blob_id=…", "")
    arq.error("%6.2fs ! %s failed, %s: %s", 0.02, "drain_outbox_tick", "ValueError", "boom")


def idle_minute() -> None:
    """What a service logs while nobody uses it, and one request and one failure."""
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    for _ in range(3):
        arq_lines()
    logging.getLogger("dandelion.http").debug("request", extra={"path": "/readyz"})
    fields = {"function": "drain_outbox_tick", "outcome": "completed", "duration_s": 0.01}
    logging.getLogger("dandelion.jobs").debug("job finished", extra=fields)
    request = {"method": "GET", "path": "/api/info/", "status": 200, "duration_ms": 3.2}
    logging.getLogger("dandelion.http").info("request", extra=request)
    logging.getLogger("dandelion_search.indexer").info("reindexed", extra={"documents": 3})


def test_the_summary_shows_requests_events_and_failures_and_the_file_has_the_rest(
    restore_logging: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log_file = tmp_path / "logs" / "api.log"
    configure_logging(LoggingSettings(console=ConsoleLog.SUMMARY, file=log_file), service="api")
    idle_minute()
    console = capsys.readouterr().err.splitlines()
    assert len(console) == 5, console
    assert re.fullmatch(rf"{CLOCK} api +GET /api/info/ 200 3ms", console[-2])
    assert console[-1].endswith(" reindexed documents=3")
    assert all(
        "ERROR arq.worker:" in line and "failed, ValueError: boom" in line for line in console[:3]
    )
    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    messages = [entry["message"] for entry in entries]
    assert messages[:2] == ["logging configured", "Started server process [4242]"]
    assert {entry["service"] for entry in entries} == {"api"}
    assert messages.count("  0.05s → 5f2c:sha256(blob_id=…)") == 3  # a queued job's lines stay
    assert not [m for m in messages if "drain_outbox_tick" in m and "failed" not in m]
    assert not [m for m in messages if m.startswith("recording health")]


def test_the_text_console_at_debug_shows_the_ticks_too(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(LoggingSettings(console=ConsoleLog.TEXT, level="DEBUG"), service="api")
    arq_lines()
    console = capsys.readouterr().err.splitlines()
    assert len(console) == 6, console  # "logging configured" and the five
    assert console[1].endswith(" DEBUG arq.worker:   0.91s → drain_outbox_tick()")
    assert " INFO " not in console[4]
    assert console[4].endswith("  0.05s → 5f2c:sha256(blob_id=…)")


def test_json_on_stderr_has_no_ticks_at_info(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(LoggingSettings(), service="worker-search")
    arq_lines()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["level"], line["message"][:10]) for line in lines] == [
        ("INFO", "logging co"),
        ("INFO", "  0.05s → "),
        ("ERROR", "  0.02s ! "),
    ]


async def until_logged(caplog: pytest.LogCaptureFixture, text: str, *, times: int) -> None:
    for _ in range(200):
        if sum(text in r.getMessage() for r in caplog.records) >= times:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} was not logged {times} times: {caplog.records}")


async def test_a_real_workers_scheduled_runs_are_debug_and_its_failures_are_not(
    settings: Settings, job_queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    """Pins the arq lines `RoutineArqLines` recognises to what the installed arq logs."""
    queue = f"dandelion:queue:test-logging-{uuid.uuid4().hex[:8]}"

    async def tick(ctx: dict[str, Any]) -> int:
        return 0

    async def broken(ctx: dict[str, Any]) -> None:
        raise ValueError("boom")

    def ticking(_: Settings) -> CronJob:
        return cron(tick, name="tick", second=set(range(60)), run_at_startup=True, keep_result=0)

    await job_queue.redis.enqueue_job("broken", _queue_name=queue)
    worker = build_worker(
        queue,
        [func(broken, name="broken", max_tries=1)],
        settings,
        cron_jobs=[ticking],
        resources=None,
        handle_signals=False,
    )
    arq_worker = logging.getLogger("arq.worker")
    arq_worker.addFilter(routine := RoutineArqLines())
    running = asyncio.create_task(worker.main())
    try:
        with caplog.at_level(logging.DEBUG, logger="arq.worker"):
            await until_logged(caplog, "← tick", times=2)
            await until_logged(caplog, ":broken failed", times=1)
    finally:
        arq_worker.removeFilter(routine)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()
        await job_queue.redis.delete(queue)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "arq.worker"]
    ticks = [level for level, message in lines if re.search(r"[→←] tick\b", message)]
    assert ticks, lines
    assert set(ticks) == {logging.DEBUG}, lines
    broke = [level for level, message in lines if ":broken" in message]
    assert logging.INFO in broke, lines  # its start
    assert logging.ERROR in broke, lines  # its failure
