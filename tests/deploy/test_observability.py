"""What operators observe of the HTTP services: `/metrics` with requests by route template,
method and status, a JSON request log with method, path, status and duration, and probes
that answer on every app (the API, the search API and the web)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import pytest
from fastapi import APIRouter, FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from dandelion_common.logging import JsonFormatter, configure_logging
from dandelion_common.settings import LoggingSettings, Settings
from dandelion_common.web.metrics import UNMATCHED, install_metrics


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called `name` in a Prometheus exposition, by their sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def nested_app() -> FastAPI:
    """Routes two routers deep, as the API's are, plus one that fails."""
    dandisets = APIRouter(prefix="/dandisets")

    @dandisets.get("/{dandiset_id}/")
    async def get_dandiset(dandiset_id: str) -> dict[str, str]:
        return {"id": dandiset_id}

    @dandisets.post("/{dandiset_id}/fail/")
    async def fail(dandiset_id: str) -> None:
        raise RuntimeError("bug")

    api = APIRouter(prefix="/api")
    api.include_router(dandisets)
    app = FastAPI()
    app.include_router(api)
    install_metrics(app)
    return app


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=nested_app(), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_requests_are_counted_by_route_template_method_and_status(
    client: AsyncClient,
) -> None:
    for dandiset in ("000001", "000002", "000003"):
        assert (await client.get(f"/api/dandisets/{dandiset}/")).status_code == 200
    assert (await client.post("/api/dandisets/000001/fail/")).status_code == 500
    assert (await client.get("/no/such/path")).status_code == 404
    text = (await client.get("/metrics")).text

    counts = samples(text, "dandelion_http_requests_total")
    template = (("method", "GET"), ("route", "/api/dandisets/{dandiset_id}/"), ("status", "200"))
    assert counts[template] == 3  # one series for every dandiset
    failed = (
        ("method", "POST"),
        ("route", "/api/dandisets/{dandiset_id}/fail/"),
        ("status", "500"),
    )
    assert counts[failed] == 1
    assert counts[(("method", "GET"), ("route", UNMATCHED), ("status", "404"))] == 1
    durations = samples(text, "dandelion_http_request_duration_seconds_count")
    assert durations[template] == 3
    assert samples(text, "process_resident_memory_bytes")  # the process's own metrics too


async def test_each_request_is_logged_with_method_path_status_and_duration(
    client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="dandelion.http"):
        await client.get("/api/dandisets/000007/")
        await client.get("/metrics")
    request, scrape = [r for r in caplog.records if r.name == "dandelion.http"]
    entry = json.loads(JsonFormatter().format(request))
    assert entry["message"] == "request"
    assert (entry["method"], entry["path"], entry["status"]) == (
        "GET",
        "/api/dandisets/000007/",
        200,
    )
    assert entry["route"] == "/api/dandisets/{dandiset_id}/"
    assert entry["duration_ms"] >= 0
    assert (request.levelno, scrape.levelno) == (logging.INFO, logging.DEBUG)  # scrapes are quiet


class Healthy:
    async def ping(self) -> None:
        return None


@pytest.mark.parametrize("service", ["api", "search-api", "web"])
async def test_every_app_serves_probes_and_metrics(service: str) -> None:
    from dandelion_api.app import create_app as api_app
    from dandelion_search.app import create_app as search_app
    from dandelion_web.app import create_app as web_app

    app = {"api": api_app, "search-api": search_app, "web": web_app}[service](Settings())
    app.state.resources = SimpleNamespace(readiness=lambda: {"postgres": Healthy().ping})
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        text = (await client.get("/metrics")).text
    counts = samples(text, "dandelion_http_requests_total")
    assert counts[(("method", "GET"), ("route", "/readyz"), ("status", "200"))] == 1


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    saved = (root.handlers[:], root.level, access.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    access.setLevel(saved[2])


def test_every_record_names_its_service_and_uvicorn_access_lines_are_off(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(LoggingSettings(), service="worker-ingest")
    logging.getLogger("arq.worker").info("job started")
    logging.getLogger("uvicorn.access").info("GET / 200")  # our middleware logs requests
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["logging configured", "job started"]
    assert {line["service"] for line in lines} == {"worker-ingest"}
