"""Request bodies over `api.max_body_bytes` are refused with a 413, whether the client
declares their size or streams them in chunks, and nothing they carried is stored.

Against a real uvicorn process: what matters is what the HTTP server hands the app, and a
chunked body (no Content-Length) used to be read whole, however large. The limit is set
small here so the bodies stay small.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fuzz.live import LiveStack, live_stack

from dandelion_common.devstack.ephemeral import ServerUrls

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def live(servers: ServerUrls) -> Iterator[LiveStack]:
    with live_stack(
        servers, search=False, env={"DANDELION_API__MAX_BODY_BYTES": str(LIMIT)}
    ) as stack:
        yield stack


@pytest.fixture
def http(live: LiveStack) -> Iterator[httpx.Client]:
    key = live.users.keys["approved"]
    headers = {"Authorization": f"token {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=f"{live.api}/api", headers=headers, timeout=30) as client:
        yield client


def dandiset_body(size: int) -> bytes:
    """A dandiset creation of exactly `size` bytes (the padding is its description)."""
    empty = json.dumps({"name": "Big", "metadata": {"description": ""}}).encode()
    body = json.dumps({"name": "Big", "metadata": {"description": "x" * (size - len(empty))}})
    assert len(body) == size
    return body.encode()


def chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def mine(http: httpx.Client) -> int:
    count: int = http.get("/dandisets/", params={"user": "me"}).json()["count"]
    return count


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"Request body is larger than {LIMIT} bytes."}


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_and_nothing_is_stored(
    http: httpx.Client, streamed: bool
) -> None:
    before = mine(http)
    body = dandiset_body(LIMIT + 1)
    content: Any = chunks(body) if streamed else body
    assert_too_large(http.post("/dandisets/", content=content))
    assert mine(http) == before


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_is_accepted(http: httpx.Client, streamed: bool) -> None:
    before = mine(http)
    body = dandiset_body(LIMIT)
    content: Any = chunks(body) if streamed else body
    response = http.post("/dandisets/", content=content)
    assert response.status_code == 200, response.text
    assert mine(http) == before + 1


def test_oversized_metadata_leaves_the_draft_unchanged(http: httpx.Client) -> None:
    created = http.post("/dandisets/", json={"name": "Small", "metadata": {}}).json()
    url = f"/dandisets/{created['identifier']}/versions/draft/"
    before = http.get(url).json()
    metadata = {**before, "description": "x" * LIMIT}
    assert_too_large(
        http.put(url, content=chunks(json.dumps({"name": "Big", "metadata": metadata}).encode()))
    )
    assert http.get(url).json() == before


def test_a_declared_size_over_the_limit_is_refused_before_the_body_is_read(
    live: LiveStack,
) -> None:
    # Only the headers are sent (a raw socket: HTTP clients refuse to send less than they
    # declare): the 413 must come without waiting for the 10 GiB.
    url = httpx.URL(live.api)
    assert url.port is not None
    head = (
        "POST /api/dandisets/ HTTP/1.1\r\n"
        f"Host: {url.host}\r\n"
        f"Authorization: token {live.users.keys['approved']}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port), timeout=10) as conn:
        conn.sendall(head.encode())
        answer = b""
        while not answer.endswith(b"}") and (data := conn.recv(65536)):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413", answer
    assert (
        rest.split(b"\r\n\r\n", 1)[1]
        == json.dumps({"detail": f"Request body is larger than {LIMIT} bytes."}).encode()
    )
