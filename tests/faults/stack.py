"""Service processes of one fault test (api, workers) against servers the test may stop,
kill, freeze or cut off, and the small helpers the tests share."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import httpx
import psutil
from factories import dandi_etag
from localstack import approved_user, service_env

from dandelion_common.devstack.ephemeral import ServerUrls
from dandelion_common.devstack.process import Child, answers_ok, free_port, wait_until

T = TypeVar("T")
CLI = [sys.executable, "-m", "dandelion_common.cli"]


class Server(Protocol):
    def child(self) -> Child: ...

    def ready(self) -> bool: ...


S = TypeVar("S", bound=Server)


@dataclass
class OwnServer(Generic[S]):
    """A backing server of the test's own, which it may stop and start again (same port, same
    data folder) without disturbing the session's servers."""

    server: S
    child: Child = field(init=False)

    def __post_init__(self) -> None:
        self.child = self.server.child()

    def start(self) -> None:
        self.child.start()
        wait_until(self.server.ready, timeout=60, what=f"{self.child.name}", child=self.child)

    def stop(self) -> None:
        self.child.stop()

    def freeze(self, frozen: bool) -> None:
        """SIGSTOP (or SIGCONT) the server and every process it forked: it still holds its
        port and connections but answers nothing, as a server that hangs. (By process, not
        group: PostgreSQL's backends each lead a process group of their own.)"""
        assert self.child.popen is not None
        server = psutil.Process(self.child.popen.pid)
        for process in [server, *server.children(recursive=True)]:
            process.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)


@dataclass
class Services:
    """The api and worker processes of one test, each with its log; all stop at the end."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: int = 0

    @classmethod
    def for_test(
        cls, servers: ServerUrls, database: str, redis_url: str, logs: Path, **extra: str
    ) -> Services:
        port = free_port()
        env = service_env(servers, database, port)
        env |= {
            "DANDELION_REDIS__URL": redis_url,
            "DANDELION_GC__CRON_ENABLED": "false",
            "DANDELION_WORKER__JOB_COMPLETION_WAIT_SECONDS": "1",  # a test's end needs no drain
            "DANDELION_LOGGING__LEVEL": "INFO",  # tests read the jobs' logs; a failure shows them
        }
        return cls({**env, **extra}, logs)

    @property
    def api_port(self) -> int:
        return int(self.env["DANDELION_API__PORT"])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        assert name not in self.procs, f"{name} runs already"
        self.started += 1
        log = self.logs / f"{name}-{self.started}.log"
        with log.open("wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([*CLI, *argv], env=self.env, stdout=out, stderr=out)
        self.procs[name] = proc
        return proc

    def start_api(self) -> str:
        """The API's `/api` URL once it serves (its readiness is the test's business)."""
        proc = self.start("api", "api")
        healthz = f"{self.base}/healthz"
        wait_until(lambda: proc.poll() is None and answers_ok(healthz), timeout=90, what="api")
        return f"{self.base}/api"

    def start_worker(self, queue: str) -> subprocess.Popen[bytes]:
        return self.start(f"worker-{queue}", "worker", queue)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def log(self, name: str) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob(f"{name}-*")))

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        self.procs.clear()


async def approved_key(database: str) -> str:
    """The API key of a new approved user of `database`."""
    return await approved_user(database, f"faults-{uuid.uuid4().hex[:8]}")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float, what: str, every: float = 0.1
) -> T:
    """The first non-None answer of `probe`; fails after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                if (answer := await probe()) is not None:
                    return answer
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"timed out after {within:.0f} s waiting for {what}") from None


async def send_upload(client: httpx.AsyncClient, dandiset: str, data: bytes) -> str:
    """`data` sent to S3 as the dandi client does (one part); returns the upload's id, which
    `/validate/` turns into a blob."""
    body = {
        "contentSize": len(data),
        "digest": {"algorithm": "dandi:dandi-etag", "value": dandi_etag(data)},
        "dandiset": dandiset,
    }
    started = await client.post("/uploads/initialize/", json=body)
    assert started.status_code == 200, started.text
    upload_id, (part,) = started.json()["upload_id"], started.json()["parts"]
    async with httpx.AsyncClient(timeout=30) as s3:  # presigned: no API token may go along
        put = await s3.put(part["upload_url"], content=data)
        assert put.status_code == 200, put.text
        parts = [{"part_number": 1, "size": len(data), "etag": put.headers["ETag"].strip('"')}]
        completion = await client.post(f"/uploads/{upload_id}/complete/", json={"parts": parts})
        assert completion.status_code == 200, completion.text
        plan = completion.json()
        done = await s3.post(plan["complete_url"], content=plan["body"])
        assert done.status_code == 200, done.text
    return str(upload_id)


async def upload_blob(client: httpx.AsyncClient, dandiset: str, data: bytes) -> str:
    """`data` uploaded and validated; returns the new blob's id."""
    upload_id = await send_upload(client, dandiset, data)
    validated = await client.post(f"/uploads/{upload_id}/validate/")
    assert validated.status_code == 200, validated.text
    blob_id: str = validated.json()["blob_id"]
    return blob_id
