"""Logs are one JSON object per line, with `extra=` fields kept as keys."""

from __future__ import annotations

import json
import logging
import sys

from dandelion_common.logging import JsonFormatter


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
