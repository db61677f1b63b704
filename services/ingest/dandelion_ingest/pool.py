"""A process pool for reading NWB files: h5py and pynwb block, hold the GIL for long stretches
and can crash on hostile files, so they run in child processes with a deadline."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


class ReaderFailed(Exception):
    """The reader crashed or ran past its deadline; the message says which."""


class ReaderPool:
    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self.in_flight = 0

    @property
    def busy(self) -> bool:
        return self.in_flight >= self._workers

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the worker process has an event loop and client threads.
            self._executor = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=100,  # bounds leaks in the HDF5 stack
            )
        return self._executor

    async def run(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        self.in_flight += 1
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._pool(), fn, *args), deadline)
        except TimeoutError:
            self.reset()
            raise ReaderFailed(f"reading the file took longer than {deadline:.0f} s") from None
        except BrokenProcessPool:
            self.reset()
            raise ReaderFailed("the file reader crashed on this file") from None
        finally:
            self.in_flight -= 1

    def reset(self) -> None:
        """Kill the children (a stuck HDF5 call cannot be cancelled otherwise)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.reset()
