"""The reader pool: results come back, and a hung or crashed reader becomes a readable failure
with a fresh process for the next file."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator

import pytest

from dandelion_ingest.pool import ReaderFailed, ReaderPool


@pytest.fixture
def pool() -> Iterator[ReaderPool]:
    readers = ReaderPool()
    yield readers
    readers.close()


async def test_a_result_comes_back(pool: ReaderPool) -> None:
    assert await pool.run(60, math.sqrt, 16.0) == 4.0
    assert not pool.busy


async def test_a_reader_past_its_deadline_is_killed_and_replaced(pool: ReaderPool) -> None:
    with pytest.raises(ReaderFailed, match="longer than"):
        await pool.run(0.5, time.sleep, 30)
    assert not pool.busy
    assert await pool.run(60, math.sqrt, 9.0) == 3.0


async def test_a_crashed_reader_is_replaced(pool: ReaderPool) -> None:
    with pytest.raises(ReaderFailed, match="crashed"):
        await pool.run(60, os._exit, 1)
    assert await pool.run(60, math.sqrt, 4.0) == 2.0
