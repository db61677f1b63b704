"""The NWB reader processes: h5py and pynwb block, hold the GIL for long stretches and can
crash on hostile files, so they run in child processes with a deadline.

A pool holds a fixed number of readers, and each reader at most one process, which it
replaces only after the old one has been killed and joined. So the number of reader
processes never exceeds the pool's size, whatever the files do: a reader that crashes, runs
past its deadline, is cancelled, or reaches its task limit is gone before its successor
starts. Each reader reads one file at a time, so a failure stops only its own file.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger("dandelion.ingest")

# A killed process is gone within milliseconds; one that is not (stuck in the kernel) keeps
# its reader's place until it is, rather than run beside a successor.
REAP_SECONDS = 5.0


class ReaderFailed(Exception):
    """The reader crashed or ran past its deadline; the message says which."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a reader process (its `__cause__`)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    trace: str = ""

    def result(self) -> Any:
        if self.error is not None:
            raise self.error from RemoteTraceback(self.trace)
        return self.value


def _serve(connection: Connection) -> None:
    """A reader process: run each call it is sent, and send back what came of it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its pool ends it, not a terminal's ^C
    while True:
        try:
            fn, args = connection.recv()
        except EOFError:
            return  # its pool let go of it
        connection.send_bytes(_reply(fn, args))


def _reply(fn: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    try:
        outcome = _Outcome(value=fn(*args))
    except Exception as exc:  # noqa: BLE001 - whatever the call raises is its caller's answer
        outcome = _Outcome(error=exc, trace=traceback.format_exc())
    try:
        return pickle.dumps(outcome)
    except Exception as exc:  # noqa: BLE001 - an answer that cannot cross fails the call
        unsent = RuntimeError(f"the reader's answer could not be sent back: {exc!r}")
        return pickle.dumps(_Outcome(error=unsent, trace=outcome.trace))


def _wake(readable: asyncio.Future[None]) -> None:
    if not readable.done():
        readable.set_result(None)


class _Reader:
    """One place for a reader process: started on first use, replaced only once joined."""

    def __init__(self, context: SpawnContext, max_tasks: int) -> None:
        self._context = context
        self._max_tasks = max_tasks
        self._process: SpawnProcess | None = None
        self._connection: Connection | None = None
        self._waiting: asyncio.Future[None] | None = None  # a call's wait for the answer
        self._tasks = 0

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        connection = self._connect()
        try:
            connection.send((fn, args))
            outcome = await asyncio.wait_for(self._receive(connection), deadline)
        except TimeoutError:
            self.stop()
            raise ReaderFailed(f"reading the file took longer than {deadline:.0f} s") from None
        except (EOFError, OSError):
            self.stop()
            raise ReaderFailed("the file reader crashed on this file") from None
        except BaseException:
            self.stop()  # cancelled mid-read: its late answer must not answer the next call
            raise
        self._tasks += 1
        if self._tasks >= self._max_tasks:
            self.stop()  # a fresh process bounds leaks in the HDF5 stack
        result: T = outcome.result()
        return result

    async def _receive(self, connection: Connection) -> _Outcome:
        """The process's answer, awaited on the event loop; EOFError once it is gone."""
        loop = asyncio.get_running_loop()
        descriptor = connection.fileno()
        self._waiting = loop.create_future()
        loop.add_reader(descriptor, _wake, self._waiting)
        try:
            await self._waiting
        finally:
            loop.remove_reader(descriptor)
            self._waiting = None
        answer: _Outcome = pickle.loads(connection.recv_bytes())  # noqa: S301 - our own child's
        return answer

    def _connect(self) -> Connection:
        if self._process is not None and not self._process.is_alive():
            self.stop()  # it died while idle (the OOM killer): not this file's doing
        if self._connection is None:
            if not self._reap():
                raise ReaderFailed("the previous file reader has not exited yet")
            # spawn, not fork: the worker process has an event loop and client threads.
            ours, theirs = self._context.Pipe()
            process = self._context.Process(target=_serve, args=(theirs,), daemon=True)
            process.start()
            theirs.close()
            self._process, self._connection, self._tasks = process, ours, 0
        return self._connection

    def stop(self) -> None:
        """Kill the process (a stuck HDF5 call cannot be interrupted otherwise) and join it.
        A call still waiting on it (the pool closing under it) ends now, as a crash."""
        if self._waiting is not None:
            if not self._waiting.done():
                self._waiting.set_exception(EOFError())
            self._reap()  # its call closes the connection once off the loop's watch
            return
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._reap()

    def _reap(self) -> bool:
        """True once this reader has no process; False while a killed one is still exiting."""
        process = self._process
        if process is None:
            return True
        process.kill()
        process.join(REAP_SECONDS)
        if process.exitcode is None:
            logger.error("reader process still running after SIGKILL", extra={"pid": process.pid})
            return False
        process.close()
        self._process = None
        return True


class ReaderPool:
    """At most `workers` reader processes; a call waits for a free one."""

    def __init__(self, workers: int = 1, *, max_tasks_per_child: int = 100) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self._idle = [_Reader(context, max_tasks_per_child) for _ in range(workers)]
        self._readers = list(self._idle)
        self._turns = asyncio.Semaphore(workers)
        self.in_flight = 0  # calls running or waiting for a reader

    @property
    def busy(self) -> bool:
        return self.in_flight >= self.workers

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a reader process; the deadline starts once a reader is free."""
        self.in_flight += 1
        try:
            async with self._turns:
                reader = self._idle.pop()
                try:
                    return await reader.run(deadline, fn, *args)
                finally:
                    self._idle.append(reader)
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        for reader in self._readers:
            reader.stop()
