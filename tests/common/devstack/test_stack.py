"""`dandelion up` as a user runs it: the stack answers, workers run jobs, and SIGTERM
leaves no process behind. A busy port is refused with a clear message. Idle, it prints its
banner and little else, and each service's full log is in a file of its own."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from dandelion_common.devstack.ephemeral import s3_base_port
from dandelion_common.devstack.process import free_port
from dandelion_common.jobs.contracts import PingPayload, Queue, ping_contract
from dandelion_common.jobs.queue import JobQueue
from dandelion_common.settings import RedisSettings

pytestmark = pytest.mark.slow


def stack_env(data_dir: Path, *, level: str = "WARNING") -> dict[str, str]:
    ports = {
        "API_PORT": free_port(),
        "SEARCH_PORT": free_port(),
        "WEB_PORT": free_port(),
        "POSTGRES_PORT": free_port(),
        "REDIS_PORT": free_port(),
        "S3_PORT": s3_base_port(),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANDELION_")}
    env |= {f"DANDELION_DEVSTACK_{k}": str(v) for k, v in ports.items()}
    env |= {"DANDELION_DEVSTACK_DATA_DIR": str(data_dir), "DANDELION_LOGGING__LEVEL": level}
    return env


@pytest.fixture
def data_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="dandelion-stack-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def stack(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = stack_env(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dandelion_common.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc, env
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for_info(proc: subprocess.Popen[str], url: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                info: dict[str, object] = response.json()
                return info
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {timeout}s")


async def ping_workers(redis_url: str) -> set[str]:
    """Each worker answers a ping job through its own queue."""
    queue = await JobQueue.connect(RedisSettings(url=redis_url))
    try:
        answered = set()
        for name in Queue:
            job = await queue.enqueue(ping_contract(name), PingPayload(token=uuid.uuid4().hex))
            assert job is not None
            result = await job.result(timeout=30)
            answered.add(result["worker"].split(":")[2])
        return answered
    finally:
        await queue.close()


def test_stack_starts_answers_and_stops_without_leftovers(
    stack: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    proc, env = stack
    api = f"http://127.0.0.1:{env['DANDELION_DEVSTACK_API_PORT']}"
    info = wait_for_info(proc, f"{api}/api/info/")
    services = info["services"]
    assert isinstance(services, dict)
    assert services["api"]["url"] == f"{api}/api"
    web = f"http://127.0.0.1:{env['DANDELION_DEVSTACK_WEB_PORT']}"
    assert services["webui"]["url"] == web
    home = httpx.get(f"{web}/", timeout=30)
    assert home.status_code == 200, home.text
    assert "<h1>" in home.text
    to_web = httpx.get(f"{api}/", timeout=30)
    assert (to_web.status_code, to_web.headers["location"]) == (302, f"{web}/")

    descendants = psutil.Process(proc.pid).children(recursive=True)
    names = " ".join(" ".join(p.cmdline()) for p in descendants)
    for expected in (
        "postgres",
        "redis-server",
        "weed",
        " api",
        "search-api",
        " web",
        "worker ingest",
        "worker search",
        "worker doi",
    ):
        assert expected in names, f"{expected} is not running"
    redis_url = f"redis://127.0.0.1:{env['DANDELION_DEVSTACK_REDIS_PORT']}/0"
    assert asyncio.run(ping_workers(redis_url)) == {"ingest", "search", "doi"}
    probe_env = env | {"DANDELION_REDIS__URL": redis_url}
    for queue in ("ingest", "search", "doi"):  # the per-pod probe Kubernetes will use
        probe = subprocess.run(
            [sys.executable, "-m", "dandelion_common.cli", "worker-health", queue],
            env=probe_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert probe.returncode == 0, probe.stderr

    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    survivors = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == [], [p.cmdline() for p in survivors]
    assert "Admin key:" in output


def test_dandi_client_accepts_the_running_instance(
    stack: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    """The official client resolves a bare URL via /server-info and trusts services.api.url."""
    from dandi.utils import get_instance

    proc, env = stack
    api = f"http://127.0.0.1:{env['DANDELION_DEVSTACK_API_PORT']}"
    wait_for_info(proc, f"{api}/api/info/")
    instance = get_instance(f"{api}/api")
    assert instance.api == f"{api}/api"
    assert instance.name == f"127.0.0.1:{env['DANDELION_DEVSTACK_API_PORT']}"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)


def test_busy_port_is_refused_clearly(data_dir: Path) -> None:
    env = stack_env(data_dir)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["DANDELION_DEVSTACK_API_PORT"])))
        squatter.listen()
        result = subprocess.run(
            [sys.executable, "-m", "dandelion_common.cli", "up"],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {env['DANDELION_DEVSTACK_API_PORT']}" in result.stderr
    assert "already in use" in result.stderr
    assert "DANDELION_DEVSTACK_API_PORT" in result.stderr
    assert not (data_dir / "postgres").exists()  # refused before anything started


class Console:
    """The lines `dandelion up` prints, as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 120) -> int:
        """The number of lines printed up to the first one containing `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for number, line in enumerate(list(self.lines), start=1):
                if text in line:
                    return number
            assert self.proc.poll() is None, "\n".join(self.lines)
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed within {timeout}s:\n" + "\n".join(self.lines))

    def close(self) -> None:
        self._reader.join(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


SERVICE_NAMES = ("api", "search-api", "web", "worker-ingest", "worker-search", "worker-doi")


def log_entries(data_dir: Path, service: str) -> list[dict[str, object]]:
    text = (data_dir / "logs" / f"{service}.log").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_an_idle_stack_prints_its_banner_and_requests_and_logs_the_rest_to_files(
    data_dir: Path,
) -> None:
    env = stack_env(data_dir, level="INFO")  # as `make run` logs
    proc = subprocess.Popen(
        [sys.executable, "-m", "dandelion_common.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console = Console(proc)
    try:
        banner_end = console.wait_for("Press Ctrl-C to stop.")
        time.sleep(10)  # idle: the search drain ticks ten times, workers record their health
        idle = console.lines[banner_end:]
        assert len([line for line in idle if line.strip()]) <= 2, "\n".join(idle)
        api = f"http://127.0.0.1:{env['DANDELION_DEVSTACK_API_PORT']}"
        assert httpx.get(f"{api}/api/info/", timeout=10).status_code == 200
        console.wait_for("GET /api/info/ 200", timeout=10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        console.close()
    printed = "\n".join(console.lines)
    assert "Dandelion is running." in printed
    # The first address a person sees is the web pages'.
    banner = printed.split("Dandelion is running.", 1)[1].strip().splitlines()
    assert banner[0].startswith("Open:         http://127.0.0.1:"), banner
    assert f"Logs:         {data_dir.resolve() / 'logs'}" in printed
    assert re.search(r"\d\d:\d\d:\d\d api +GET /api/info/ 200 \d+ms$", printed, re.M), printed
    assert len(console.lines) < 26, printed  # the banner, the request, start and stop
    assert "→ drain_outbox_tick" not in printed
    assert "{" not in printed  # no JSON on the console
    for name in SERVICE_NAMES:
        entries = log_entries(data_dir, name)
        assert entries, name
        assert {entry["service"] for entry in entries} == {name}
    api_log = log_entries(data_dir, "api")
    requests = [e for e in api_log if e["message"] == "request" and e["path"] == "/api/info/"]
    assert [(e["route"], e["status"]) for e in requests] == [("/api/info/", 200)]
    assert any(str(e["message"]).startswith("Uvicorn running on") for e in api_log)
    search_log = (data_dir / "logs" / "worker-search.log").read_text()
    assert "Starting worker for" in search_log
    assert "→ drain_outbox_tick" not in search_log  # the ticks are debug records
