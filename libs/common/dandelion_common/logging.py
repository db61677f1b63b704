"""Logging for every Dandelion process: the root logger feeds one handler per destination.

- stderr, as `LoggingSettings.console_log` says: JSON lines (production, where a collector
  reads them), plain text lines, or a summary for a person watching `dandelion up`.
- a rotating file of JSON lines, when `LoggingSettings.file` is set (`dandelion up` gives
  each service one, so the summary can leave details out and lose nothing).

Recurring ticks are debug records wherever they come from. Our own code logs probes and
scheduled jobs' runs at debug; arq logs every job's start and end at INFO, which for the
search drain's cron is two lines a second, so `RoutineArqLines` lowers those of scheduled
jobs, and arq's health heartbeat, to debug. Failures and retries keep their level.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from dandelion_common.settings import ConsoleLog, LoggingSettings

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Fields a person does not need on a line: the service is its own column, and uvicorn repeats
# some messages with ANSI codes in `color_message`.
_UNSHOWN = frozenset({"service", "color_message"})
# Startup records of ours the summary leaves to the file: they say nothing a person acts on.
_STARTUP = frozenset({("dandelion", "logging configured")})
# arq's own lines (arq/worker.py): a job's start and end, and the health heartbeat.
_ARQ_JOB_LINES = frozenset({"%6.2fs → %s(%s)%s", "%6.2fs ← %s ● %s"})
_ARQ_HEARTBEAT = "recording health: %s"
_WIDEST_SERVICE = len("worker-ingest")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was given with `extra=`."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line, keeping `extra=` fields as top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= extra_fields(record)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _request(fields: dict[str, Any]) -> str:
    return f"{fields['method']} {fields['path']} {fields['status']} {fields['duration_ms']:.0f}ms"


def _job(fields: dict[str, Any]) -> str:
    line = f"job {fields['function']} {fields['outcome']} in {fields['duration_s']:.2f}s"
    try_ = fields.get("job_try")
    return f"{line} (try {try_})" if isinstance(try_, int) and try_ > 1 else line


# The events a person sees most, in a form shorter than their fields (logger, message).
_EVENTS: dict[tuple[str, str], Callable[[dict[str, Any]], str]] = {
    ("dandelion.http", "request"): _request,
    ("dandelion.jobs", "job finished"): _job,
}


def _shown(value: object) -> str:
    text = str(value)
    return repr(text) if not text or any(c.isspace() for c in text) else text


def describe(record: logging.LogRecord) -> str:
    """The event of a record in a few words: `GET /api/info/ 200 3ms`, or message key=value."""
    fields = {k: v for k, v in extra_fields(record).items() if k not in _UNSHOWN}
    short = _EVENTS.get((record.name, str(record.msg)))
    if short is not None:
        try:
            return short(fields)
        except (KeyError, TypeError, ValueError):
            pass  # logged with other fields than usual: shown in full below
    shown = [f"{key}={_shown(value)}" for key, value in fields.items() if value is not None]
    return " ".join([record.getMessage(), *shown])


class HumanFormatter(logging.Formatter):
    """One short line per record: local time, service, then the event; a level other than
    INFO is named with its logger, and coloured when `color` (a terminal)."""

    def __init__(self, *, color: bool) -> None:
        super().__init__()
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        text = describe(record)
        if record.levelno != logging.INFO:
            text = f"{record.levelname} {record.name}: {text}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        if self.color:
            text = self._paint(text, record.levelno)
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        service = getattr(record, "service", "")
        return f"{clock} {service:<{_WIDEST_SERVICE}} {text}"

    @staticmethod
    def _paint(text: str, level: int) -> str:
        if level == logging.INFO:
            return text
        # Errors bold red, warnings yellow, debug records dim.
        code = "1;31" if level >= logging.ERROR else "33" if level >= logging.WARNING else "2"
        return f"\x1b[{code}m{text}\x1b[0m"


class ServiceField(logging.Filter):
    """Name the process's service on every record, so logs gathered together stay apart."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


class Summary(logging.Filter):
    """What a person watching needs: our own events, and anyone's warnings and errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        # This archive's loggers: `dandelion.http`, and the services' modules by package name.
        ours = record.name.partition(".")[0].startswith("dandelion")
        return ours and (record.name, str(record.msg)) not in _STARTUP


def _routine_arq_line(record: logging.LogRecord) -> bool:
    if record.msg == _ARQ_HEARTBEAT:
        return True
    if record.msg not in _ARQ_JOB_LINES or not isinstance(record.args, tuple):
        return False
    # arq names a scheduled job's run by the cron's name alone, a queued job "<id>:<name>".
    return len(record.args) > 1 and ":" not in str(record.args[1])


class RoutineArqLines(logging.Filter):
    """Lower arq's INFO lines of scheduled jobs' runs and of its heartbeat to DEBUG.

    A filter of the `arq.worker` logger: it sees a record before any handler, whose level
    then drops it unless debug records are wanted.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _routine_arq_line(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class _LogFile(logging.handlers.RotatingFileHandler):
    """The process's log file (a type of its own, so reconfiguring closes only ours)."""


def level_number(name: str) -> int:
    level = logging.getLevelNamesMapping().get(name.upper())
    if level is None:
        raise ValueError(f"unknown log level {name!r}")
    return level


def wants_color(stream: TextIO) -> bool:
    """ANSI colours only for a terminal, and not when the user asked for none (NO_COLOR)."""
    isatty = getattr(stream, "isatty", None)
    tty = bool(isatty and isatty())
    return tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def console_handler(settings: LoggingSettings, level: int) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    mode = settings.console_log
    if mode is ConsoleLog.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(HumanFormatter(color=wants_color(sys.stderr)))
    if mode is ConsoleLog.SUMMARY:
        handler.addFilter(Summary())
        level = max(level, logging.INFO)
    handler.setLevel(level)
    return handler


def file_handler(settings: LoggingSettings, level: int) -> logging.Handler | None:
    if settings.file is None:
        return None
    settings.file.parent.mkdir(parents=True, exist_ok=True)
    handler = _LogFile(
        settings.file,
        maxBytes=settings.file_max_bytes,
        backupCount=settings.file_backups,
        encoding="utf-8",
    )
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    return handler


def configure_logging(settings: LoggingSettings, *, service: str) -> None:
    """Route all logging, uvicorn's and arq's included, to stderr and the log file if any."""
    level = level_number(settings.level)
    handlers = [console_handler(settings, level)]
    if (log_file := file_handler(settings, level)) is not None:
        handlers.append(log_file)
    for handler in handlers:
        handler.addFilter(ServiceField(service))
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, _LogFile):
            old.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    arq_worker = logging.getLogger("arq.worker")
    arq_worker.filters[:] = [f for f in arq_worker.filters if not isinstance(f, RoutineArqLines)]
    arq_worker.addFilter(RoutineArqLines())
    # Our middleware logs each request with its route, status and duration as fields
    # (`web.metrics`); uvicorn's access line would say the same again as text.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("dandelion").info("logging configured")
