"""`dandelion up`: the whole archive on one machine, as supervised child processes.

Start order: PostgreSQL, Redis, S3 → database, bucket, migrations, admin key → api, search
API and the three workers. Stop order is the reverse; a child that dies takes the stack down.

The console is for a person: each service prints a summary (requests, jobs, warnings and
errors) and writes its full JSON log to <data dir>/logs/<service>.log; `--verbose` prints
the full logs. The servers log to files in their own folders.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from dandelion_common.db.migrate import upgrade
from dandelion_common.devstack.bootstrap import admin_key, ensure_admin, ensure_bucket
from dandelion_common.devstack.process import (
    Child,
    DevstackError,
    answers_ok,
    port_is_free,
    wait_until,
)
from dandelion_common.devstack.servers import Postgres, Redis, SeaweedS3, public_prefixes
from dandelion_common.settings import DevstackSettings, Settings

SERVICES = ("api", "search-api", "web", "worker ingest", "worker search", "worker doi")
# The HTTP services and how to reach each: all are waited for before the banner is printed.
HTTP_SERVICES = ("api", "search-api", "web")


class Stack:
    def __init__(self, config: DevstackSettings, *, verbose: bool = False) -> None:
        self.config = config
        self.verbose = verbose
        self.data_dir = config.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        host = config.host
        self.postgres = Postgres(self.data_dir / "postgres", host, config.postgres_port)
        self.redis = Redis(self.data_dir / "redis", host, config.redis_port)
        self.s3 = SeaweedS3(
            self.data_dir / "s3",
            host,
            config.s3_port,
            # Open blobs and published manifests, as on DANDI's bucket.
            public_read_prefixes=public_prefixes(Settings().s3.bucket),
        )
        self.children: list[Child] = []
        self._stopping = False

    # -- configuration -------------------------------------------------------------------
    def service_env(self) -> dict[str, str]:
        """Environment of every service: where the servers are (overrides inherited values)."""
        host, api_port = self.config.host, self.config.api_port
        return {
            **os.environ,
            "DANDELION_POSTGRES__URL": self.postgres.url,
            "DANDELION_REDIS__URL": self.redis.url,
            "DANDELION_S3__ENDPOINT_URL": self.s3.url,
            "DANDELION_S3__ACCESS_KEY_ID": self.s3.access_key,
            "DANDELION_S3__SECRET_ACCESS_KEY": self.s3.secret_key,
            "DANDELION_API__HOST": host,
            "DANDELION_API__PORT": str(api_port),
            "DANDELION_API__PUBLIC_URL": os.environ.get(
                "DANDELION_API__PUBLIC_URL", f"http://{host}:{api_port}"
            ),
            "DANDELION_SEARCH_API__HOST": host,
            "DANDELION_SEARCH_API__PORT": str(self.config.search_port),
            "DANDELION_WEB__HOST": host,
            "DANDELION_WEB__PORT": str(self.config.web_port),
            "DANDELION_WEB__API_URL": f"http://{host}:{api_port}",
            "DANDELION_WEB__SEARCH_URL": f"http://{host}:{self.config.search_port}",
            "DANDELION_INSTANCE__WEB_URL": os.environ.get(
                "DANDELION_INSTANCE__WEB_URL", f"http://{host}:{self.config.web_port}"
            ),
        }

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_env(self, name: str) -> dict[str, str]:
        """How service `name` logs: its full log as JSON lines in a file of its own, and on
        the console a summary, or with --verbose the full log too (at the level set, so the
        recurring ticks, debug records, only show with DANDELION_LOGGING__LEVEL=DEBUG)."""
        return {
            "DANDELION_LOGGING__FILE": str(self.log_file(name)),
            "DANDELION_LOGGING__CONSOLE": "text" if self.verbose else "summary",
        }

    def settings(self) -> Settings:
        env = self.service_env()
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def check_ports(self) -> None:
        c = self.config
        wanted = {
            "api": [c.api_port],
            "search API": [c.search_port],
            "web": [c.web_port],
            "PostgreSQL": [c.postgres_port],
            "Redis": [c.redis_port],
            "S3 (SeaweedFS, s3_port..s3_port+4 and +10000)": self.s3.ports,
        }
        variables = {
            "api": "API_PORT",
            "search API": "SEARCH_PORT",
            "web": "WEB_PORT",
            "PostgreSQL": "POSTGRES_PORT",
            "Redis": "REDIS_PORT",
        }
        for what, ports in wanted.items():
            for port in ports:
                if not port_is_free(c.host, port):
                    var = "DANDELION_DEVSTACK_" + variables.get(what, "S3_PORT")
                    raise DevstackError(
                        f"port {port} on {c.host}, needed for {what}, is already in use.\n"
                        f"Stop the program using it (is another `make run` still up?) or choose "
                        f"another port with {var}=<port> (or the matching `dandelion up` option)."
                    )

    # -- lifecycle -----------------------------------------------------------------------
    def _start(
        self, child: Child, ready: Callable[[], bool], what: str, timeout: float = 60
    ) -> None:
        self.children.append(child)
        child.start()
        wait_until(ready, timeout=timeout, what=what, child=child)

    def start_servers(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start(self.postgres.child(), self.postgres.ready, "PostgreSQL to accept connections")
        self._start(self.redis.child(), self.redis.ready, "Redis to accept connections")
        self._start(self.s3.child(), self.s3.ready, "S3 to answer")
        self.postgres.create_database()

    def prepare(self) -> str:
        """Bucket, migrations and the admin key; returns the key."""
        settings = self.settings()
        asyncio.run(ensure_bucket(settings))
        upgrade(settings.postgres.url)
        key = admin_key(self.data_dir / "admin-api-key")
        asyncio.run(ensure_admin(settings, key))
        return key

    def start_services(self) -> None:
        env = self.service_env()
        for service in SERVICES:
            argv = [sys.executable, "-m", "dandelion_common.cli", *service.split()]
            name = service.replace(" ", "-")
            child = Child(name=name, argv=argv, env=env | self.log_env(name), stop_timeout=40)
            self.children.append(child)
            child.start()
        ports = (self.config.api_port, self.config.search_port, self.config.web_port)
        for port, name in zip(ports, HTTP_SERVICES, strict=True):
            url = f"http://{self.config.host}:{port}/readyz"
            child = next(c for c in self.children if c.name == name)
            wait_until(
                functools.partial(answers_ok, url),
                timeout=60,
                what=f"{name} to be ready",
                child=child,
            )

    def stop(self) -> None:
        """Stop services first (they drain), then the servers they use."""
        self._stopping = True
        for group in (self.children[3:], self.children[:3]):
            for child in reversed(group):
                child.signal()
            for child in reversed(group):
                child.wait_stopped()
        self.children.clear()

    def watch(self) -> int:
        """Block until a stop signal (0) or until a child dies on its own (1)."""
        while not self._stopping:
            for child in self.children:
                if not child.running():
                    code = child.popen.returncode if child.popen else None
                    print(
                        f"dandelion: {child.name} exited unexpectedly (code {code}); stopping "
                        f"(its log: {self.log_file(child.name)})",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.2)
        return 0


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def client_hint(host: str, port: int) -> str:
    """How the unmodified dandi client finds this instance and its key."""
    if port == 8000:
        # The client's built-in local instance is http://$DANDI_INSTANCEHOST:8000/api.
        return (
            f"DANDI_INSTANCEHOST={host} DANDI_API_LOCAL_DOCKER_TESTS_API_KEY=<key> "
            "dandi upload -i dandi-api-local-docker-tests"
        )
    return f"env '{host}:{port}_API_KEY=<key>' dandi upload -i http://{host}:{port}/api"


def banner(stack: Stack, key: str) -> str:
    c = stack.config
    return "\n".join(
        [
            "",
            "Dandelion is running.",
            f"  Open:         http://{c.host}:{c.web_port}",
            f"  API:          http://{c.host}:{c.api_port}/api",
            f"  API docs:     http://{c.host}:{c.api_port}/api/docs/",
            f"  Search API:   http://{c.host}:{c.search_port}",
            f"  Admin key:    {key}",
            f"  Data folder:  {stack.data_dir}",
            f"  Logs:         {stack.log_dir}/<service>.log (`dandelion up --verbose` shows all)",
            f"  dandi client: {client_hint(c.host, c.api_port)}",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def run(config: DevstackSettings, *, verbose: bool = False) -> int:
    """Start the stack, print where it is, and run until SIGINT/SIGTERM."""
    stack = Stack(config, verbose=verbose)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    code = 0
    try:
        stack.check_ports()
        print(f"dandelion: starting in {stack.data_dir}", file=sys.stderr, flush=True)
        stack.start_servers()
        key = stack.prepare()
        stack.start_services()
        print(banner(stack, key), flush=True)
        code = stack.watch()
    except _Stop:
        code = 0
    except DevstackError as exc:
        print(f"dandelion: {exc}", file=sys.stderr)
        code = 2
    finally:
        # A second Ctrl-C must not interrupt the orderly shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("dandelion: stopped", file=sys.stderr)
    return code
