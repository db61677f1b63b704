"""A TCP proxy in a thread of its own, between our services and a real server, that a test
can cut: the few lines of toxiproxy that can run here (no toxiproxy server is installable).

- `forward()`: bytes pass both ways (the default);
- `refuse()`: open connections are reset and new ones refused, as a server that is down;
- `blackhole()`: connections are accepted and nothing ever answers, as a server that hangs.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

from dandelion_common.devstack.process import free_port

Mode = Literal["forward", "refuse", "blackhole"]
CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()  # below the ephemeral range: free again after refuse()
        self.mode: Mode = "forward"
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._switch("forward")
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def forward(self) -> None:
        self._switch("forward")

    def refuse(self) -> None:
        self._switch("refuse")

    def blackhole(self) -> None:
        self._switch("blackhole")

    def _switch(self, mode: Mode) -> None:
        future = asyncio.run_coroutine_threadsafe(self._set_mode(mode), self._loop)
        future.result(timeout=10)

    async def _set_mode(self, mode: Mode) -> None:
        self.mode = mode
        for writer in list(self._open):  # what was open belongs to the old mode
            writer.transport.abort()
        self._open.clear()
        if mode == "refuse" and self._server is not None:
            self._server.close()  # nothing listens: connections are refused
            self._server = None
        elif mode != "refuse" and self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )

    async def _shutdown(self) -> None:
        await self._set_mode("refuse")
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        if self.mode == "blackhole":
            await _drain(reader)  # read and drop, never answer
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open.add(upstream)
        await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(CHUNK):
        pass


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()
