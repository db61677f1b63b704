"""Turns: at most `capacity` holders, admitted in arrival order, cancellation-safe."""

from __future__ import annotations

import asyncio

import pytest

from dandelion_common.db.turns import Turns


async def test_a_released_turn_goes_to_the_oldest_waiter_not_to_a_new_arrival() -> None:
    turns = Turns(1)
    order: list[str] = []
    await turns.take()  # held by "first"

    async def request(name: str) -> None:
        await turns.take()
        order.append(name)
        await asyncio.sleep(0)
        turns.give_back()

    waiter = asyncio.create_task(request("waiter"))
    await asyncio.sleep(0)  # it is in line now
    turns.give_back()
    # Arrives after the release but before the waiter has run: with asyncio.Queue's
    # get_nowait it would take the connection first.
    arrival = asyncio.create_task(request("arrival"))
    await asyncio.gather(waiter, arrival)
    assert order == ["waiter", "arrival"]
    assert turns.free == 1


async def test_never_more_holders_than_the_capacity() -> None:
    turns = Turns(3)
    holding = peak = 0

    async def request() -> None:
        nonlocal holding, peak
        await turns.take()
        holding += 1
        peak = max(peak, holding)
        await asyncio.sleep(0.001)
        holding -= 1
        turns.give_back()

    await asyncio.gather(*(request() for _ in range(50)))
    assert peak == 3
    assert turns.free == 3


async def test_a_cancelled_waiter_leaves_the_line_and_loses_no_turn() -> None:
    turns = Turns(1)
    await turns.take()
    waiter = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not turns.waiting
    turns.give_back()
    assert turns.free == 1


async def test_a_waiter_cancelled_once_admitted_passes_its_turn_on() -> None:
    turns = Turns(1)
    await turns.take()
    admitted = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    turns.give_back()  # the turn is now admitted's, which has not resumed yet
    admitted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await admitted
    assert turns.free == 1
    await asyncio.wait_for(turns.take(), 1)  # the turn was not lost


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Turns(0)
