"""PostgreSQL restarted, then frozen, under a steady stream of API requests: every request
ends within its timeouts (200, or 503 while the database is away; never a hang, never a 500),
readiness follows the database, and the same API process serves again once it is back (the
connection pool replaces its dead connections)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from faults.stack import OwnServer, Services, approved_key, eventually

from dandelion_common.db.migrate import upgrade
from dandelion_common.devstack.ephemeral import HOST, ServerUrls
from dandelion_common.devstack.process import free_port
from dandelion_common.devstack.servers import Postgres

pytestmark = pytest.mark.slow  # starts service processes and waits for recoveries

# Tight bounds, so that the test's client timeout proves no request outlived them.
BOUNDS = {
    "DANDELION_POSTGRES__CONNECT_TIMEOUT_SECONDS": "1",
    "DANDELION_POSTGRES__POOL_TIMEOUT_SECONDS": "2",
    "DANDELION_POSTGRES__STATEMENT_TIMEOUT_MS": "1000",
}
CLIENT_TIMEOUT = 10.0  # every bound above together, twice over
FROZEN_SECONDS = CLIENT_TIMEOUT + 3  # a request waiting on the frozen server would time out
CLIENTS = 8


@pytest.fixture
def own_postgres() -> Iterator[OwnServer[Postgres]]:
    root = Path(tempfile.mkdtemp(prefix="faults-postgres-"))
    root.chmod(0o755)  # PostgreSQL runs as nobody when the tests run as root
    postgres = OwnServer(Postgres(root, HOST, free_port(HOST), durable=False))
    try:
        postgres.start()
        postgres.server.create_database()
        upgrade(postgres.server.url)
        yield postgres
    finally:
        if postgres.child.running():
            postgres.freeze(False)
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def api(
    servers: ServerUrls, own_postgres: OwnServer[Postgres], services: Services
) -> AsyncIterator[httpx.AsyncClient]:
    services.env |= BOUNDS | {"DANDELION_POSTGRES__URL": own_postgres.server.url}
    base = services.start_api()
    headers = {"Authorization": f"token {await approved_key(own_postgres.server.url)}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=CLIENT_TIMEOUT) as client:
        yield client


@dataclass
class Traffic:
    """Requests sent in a loop by a few clients, each answer noted with the phase it was sent
    in (phases change only once readiness shows the change has taken effect)."""

    client: httpx.AsyncClient
    paths: list[str]
    phase: str = "before"
    answers: list[tuple[str, int | str]] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    running: bool = True

    async def run(self) -> None:
        await asyncio.gather(*(self._client(n) for n in range(CLIENTS)))

    async def _client(self, n: int) -> None:
        while self.running:
            path, sent_in = self.paths[n % len(self.paths)], self.phase
            self.in_flight[sent_in] += 1
            try:
                answer: int | str = (await self.client.get(path)).status_code
            except httpx.HTTPError as exc:  # a hang shows up here, as a timeout
                answer = type(exc).__name__
            self.in_flight[sent_in] -= 1
            self.answers.append((sent_in, answer))
            await asyncio.sleep(0.05)

    async def enter(self, phase: str) -> None:
        """Start `phase` once the requests of the earlier phases have ended."""
        self.phase = phase

        async def settled() -> bool | None:
            return True if self.in_flight.total() == self.in_flight[phase] else None

        await eventually(settled, within=CLIENT_TIMEOUT * 2, what=f"{phase}: requests to end")

    def seen(self, phase: str) -> set[int | str]:
        return {answer for p, answer in self.answers if p == phase}


async def readiness(services: Services, status: int) -> bool | None:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as probe:
        answer = await probe.get(f"{services.base}/readyz")
    return True if answer.status_code == status else None


def logged_errors(services: Services) -> str:
    return "\n".join(
        line for line in services.log("api").splitlines() if '"level": "ERROR"' in line
    )


async def phase(traffic: Traffic, name: str, seconds: float) -> None:
    await traffic.enter(name)
    await asyncio.sleep(seconds)


async def test_the_api_rides_out_a_postgres_restart_and_a_frozen_postgres(
    services: Services, api: httpx.AsyncClient, own_postgres: OwnServer[Postgres]
) -> None:
    created = await api.post("/dandisets/", json={"name": "Restarted", "metadata": {}})
    assert created.status_code == 200, created.text
    identifier = created.json()["identifier"]
    traffic = Traffic(api, ["/dandisets/", f"/dandisets/{identifier}/"])
    load = asyncio.create_task(traffic.run())
    try:
        await phase(traffic, "before", 1)
        await traffic.enter("stopping")
        await asyncio.to_thread(own_postgres.stop)  # fast shutdown: connections are cut
        await eventually(lambda: readiness(services, 503), within=30, what="readiness 503")
        await phase(traffic, "down", 2)
        await traffic.enter("starting")
        await asyncio.to_thread(own_postgres.start)
        await eventually(lambda: readiness(services, 200), within=30, what="readiness 200")
        await phase(traffic, "restarted", 2)

        await traffic.enter("freezing")
        own_postgres.freeze(True)  # the server holds its sockets and answers nothing
        await phase(traffic, "frozen", FROZEN_SECONDS)
        await traffic.enter("thawing")  # the requests sent to the frozen server have ended
        own_postgres.freeze(False)
        await eventually(lambda: readiness(services, 200), within=30, what="readiness 200")
        await phase(traffic, "thawed", 2)
    finally:
        traffic.running = False
        await load
    errors = logged_errors(services)  # a 500's traceback, should one show up
    assert traffic.seen("before") == {200}, errors
    assert traffic.seen("stopping") <= {200, 503}, errors  # requests cut short are unavailable
    assert traffic.seen("down") == {503}, errors
    assert traffic.seen("restarted") == {200}, errors  # the pool replaced its dead connections
    assert traffic.seen("freezing") <= {200, 503}, errors
    assert traffic.seen("frozen") == {503}, errors  # answered within the bounds: no timeout
    assert traffic.seen("thawing") <= {200, 503}, errors
    assert traffic.seen("thawed") == {200}, errors
    assert services.procs["api"].poll() is None
