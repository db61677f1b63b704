"""First come, first served admission to the connection pool, for request sessions.

SQLAlchemy's async pool hands a returned connection to whoever asks next, and its queue is
an `asyncio.Queue`: a request that arrives while the connection's waiter is being woken
takes it first (`get_nowait` succeeds), and the waiter goes back to the end of the line. Under
load a few requests lose that race again and again: `bench_load` measured the pool wait's
p99 at 5-7x its p50, and endpoint p99s at 3-12x their p50, most of it spent here. With a
pool as large as the clients (no queue at all) p99/p50 fell to 1.2-1.7, which is what a fair
queue gives without the connections.

`Turns` admits at most `capacity` holders and hands a released turn straight to the oldest
waiter (the holder count never drops, so an arrival cannot slip in between). A waiter that
is cancelled leaves the line; one cancelled after it was admitted passes its turn on.
Only request sessions take turns (one per request, taken when the request first needs the
database); jobs and probes use the pool directly, so a turn never waits on another turn.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    """At most `capacity` holders at once, admitted strictly in arrival order."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.free = capacity
        self.waiting: deque[asyncio.Future[None]] = deque()

    async def take(self) -> None:
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give_back()  # admitted, then cancelled before it resumed
            else:
                self.waiting.remove(turn)
            raise

    def give_back(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # straight to the oldest waiter
                return
        self.free += 1
