"""A DataCite REST API test double: a real HTTP server on 127.0.0.1, in a thread of its own.

It implements the part of DataCite's `/dois` API the doi service uses, with DataCite's
documented semantics (../shared/reference/search-nwb-doi.md, D.5; DataCite's lupo source):

- states ``draft`` → ``registered`` / ``findable`` driven by ``attributes.event``
  (``publish``, ``register``, ``hide``, ``show``); an event that does not apply to the
  current state is silently ignored, and nothing ever goes back to ``draft``;
- ``POST /dois`` creates (422 on a taken DOI), ``PUT /dois/{doi}`` upserts (201 created,
  200 updated; attributes not sent are kept), ``GET`` reads, ``DELETE`` removes drafts only
  (405 with ``Allow`` otherwise);
- metadata is checked only when the resulting state is registered or findable: ``url`` plus
  DataCite's mandatory properties (titles, creators, publisher, publicationYear,
  types.resourceTypeGeneral), 422 with one error per failing attribute. It is deliberately
  not dandischema's schema check: the fake judges our payloads, it must not share their code;
- HTTP Basic auth (401), one owned prefix (403), JSON:API bodies and content type.

Being a real server, it serves sync and async tests alike and worker processes started by a
test (see `FakeDataCite.env`). `fail_with`, `hang` and `recover` switch outages on and off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from dandelion_common.settings import DoiSettings

PREFIX = "10.80507"  # DataCite's test prefix, as DANDI uses it in CI
USERNAME = "DANDELION.TEST"
PASSWORD = "fake-datacite-password"
JSON_API = "application/vnd.api+json"

# lupo's DOI format check.
DOI_FORMAT = re.compile(r"^10\.\d{4,5}/[-._;()/:a-zA-Z0-9*~$=]+$")
TRANSITIONS = {
    ("publish", "draft"): "findable",
    ("publish", "registered"): "findable",
    ("register", "draft"): "registered",
    ("hide", "findable"): "registered",
    ("show", "registered"): "findable",
}
# DataCite 4.6's controlled list.
RESOURCE_TYPES_GENERAL = frozenset(
    {
        "Audiovisual", "Award", "Book", "BookChapter", "Collection", "ComputationalNotebook",
        "ConferencePaper", "ConferenceProceeding", "DataPaper", "Dataset", "Dissertation",
        "Event", "Image", "Instrument", "InteractiveResource", "Journal", "JournalArticle",
        "Model", "OutputManagementPlan", "PeerReview", "PhysicalObject", "Preprint", "Project",
        "Report", "Service", "Software", "Sound", "Standard", "StudyRegistration", "Text",
        "Workflow", "Other",
    }
)  # fmt: skip
# Keys DataCite derives itself; sent values are ignored.
DERIVED = ("doi", "prefix", "suffix", "state", "isActive", "created", "registered", "updated")
NOT_FOUND = {"status": "404", "title": "The resource you are looking for doesn't exist."}
BAD_CREDENTIALS = {"status": "401", "title": "Bad credentials."}
FORBIDDEN = {"status": "403", "title": "You are not authorized to access this resource."}


@dataclass
class FakeDoi:
    """A DOI as the fake holds it."""

    doi: str
    state: str
    attributes: dict[str, Any]
    created: str
    updated: str
    registered: str | None = None


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    body: Any  # the parsed JSON body, or None
    status: int


@dataclass
class _Failure:
    status: int
    retry_after: int | str | None  # delta-seconds or an HTTP date
    remaining: int | None  # requests left to fail; None: until recover()


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _errors(status: int, *errors: dict[str, str]) -> _Answer:
    return _Answer(status, {"errors": list(errors)})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Registry:
    """DataCite's DOI records and their state machine, without HTTP."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.dois: dict[str, FakeDoi] = {}

    def create(self, data: dict[str, Any]) -> _Answer:
        attributes = dict(data.get("attributes") or {})
        doi = str(attributes.get("doi") or data.get("id") or "").lower()
        if not doi and attributes.get("prefix"):
            doi = f"{str(attributes['prefix']).lower()}/{_random_suffix()}"
        if not DOI_FORMAT.match(doi):
            title = "Can't be blank" if not doi else "Is invalid"
            return _errors(422, {"source": "doi", "uid": doi, "title": title})
        if not doi.startswith(f"{self.prefix}/"):
            return _errors(403, FORBIDDEN)
        if doi in self.dois:
            return _errors(
                422, {"source": "doi", "uid": doi, "title": "This DOI has already been taken"}
            )
        return self._save(doi, None, attributes)

    def upsert(self, doi: str, data: dict[str, Any]) -> _Answer:
        if not DOI_FORMAT.match(doi):
            return _errors(404, NOT_FOUND)
        if not doi.startswith(f"{self.prefix}/"):
            return _errors(403, FORBIDDEN)
        return self._save(doi, self.dois.get(doi), dict(data.get("attributes") or {}))

    def read(self, doi: str, *, authenticated: bool) -> _Answer:
        record = self.dois.get(doi)
        # Drafts and registered DOIs are visible to their owner only.
        if record is None or not (authenticated or record.state == "findable"):
            return _errors(404, NOT_FOUND)
        return _Answer(200, self._document(record))

    def delete(self, doi: str) -> _Answer:
        record = self.dois.get(doi)
        if record is None:
            return _errors(404, NOT_FOUND)
        if record.state != "draft":
            answer = _errors(405, {"status": "405", "title": "Method not allowed"})
            answer.headers["Allow"] = "GET, PUT, PATCH, HEAD"
            return answer
        del self.dois[doi]
        return _Answer(204)

    def _save(self, doi: str, existing: FakeDoi | None, attributes: dict[str, Any]) -> _Answer:
        event = attributes.pop("event", None)
        for key in DERIVED:
            attributes.pop(key, None)
        merged = {**(existing.attributes if existing else {}), **attributes}
        before = existing.state if existing else "draft"
        state = TRANSITIONS.get((str(event), before), before)
        problems = _url_problems(doi, merged.get("url"), required=state != "draft")
        if state != "draft":
            problems += _metadata_problems(doi, merged)
        if problems:  # nothing is saved, as in DataCite's transaction
            return _errors(422, *problems)
        now = _now()
        record = FakeDoi(doi=doi, state=state, attributes=merged, created=now, updated=now)
        if existing is not None:
            record.created, record.registered = existing.created, existing.registered
        if record.registered is None and state != "draft":
            record.registered = now
        self.dois[doi] = record
        return _Answer(200 if existing else 201, self._document(record))

    def _document(self, record: FakeDoi) -> dict[str, Any]:
        prefix, suffix = record.doi.split("/", 1)
        attributes = {
            **copy.deepcopy(record.attributes),
            "doi": record.doi, "prefix": prefix, "suffix": suffix, "state": record.state,
            "isActive": record.state == "findable", "url": record.attributes.get("url"),
            "created": record.created, "registered": record.registered,
            "updated": record.updated,
        }  # fmt: skip
        return {"data": {"id": record.doi, "type": "dois", "attributes": attributes}}


def _random_suffix() -> str:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"  # DataCite's base32 suffixes: "abcd-1234"
    chars = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def _problem(doi: str, source: str, title: str) -> dict[str, str]:
    return {"source": source, "uid": doi, "title": title}


def _url_problems(doi: str, url: object, *, required: bool) -> list[dict[str, str]]:
    if url is None or url == "":
        return [_problem(doi, "url", "Can't be blank")] if required else []
    if not (isinstance(url, str) and re.match(r"^(ftp|https?|gs|s3|dos)://\S+", url)):
        return [_problem(doi, "url", "URL is not valid")]
    return []


def _metadata_problems(doi: str, attributes: dict[str, Any]) -> list[dict[str, str]]:
    """DataCite's mandatory properties, checked for registered and findable DOIs only."""
    checks = {
        "titles": _has_entry_with(attributes.get("titles"), "title"),
        "creators": _has_entry_with(attributes.get("creators"), "name"),
        "publisher": _publisher_named(attributes.get("publisher")),
        "publicationYear": bool(re.fullmatch(r"\d{4}", str(attributes.get("publicationYear")))),
        "types": _types_general(attributes.get("types")),
    }
    return [
        _problem(doi, name, f"DOI {doi}: {name} is missing or invalid")
        for name, ok in checks.items()
        if not ok
    ]


def _has_entry_with(entries: object, key: str) -> bool:
    return (
        isinstance(entries, list)
        and bool(entries)
        and all(isinstance(e, dict) and isinstance(e.get(key), str) and e[key] for e in entries)
    )


def _publisher_named(publisher: object) -> bool:
    if isinstance(publisher, dict):
        publisher = publisher.get("name")
    return isinstance(publisher, str) and bool(publisher)


def _types_general(types: object) -> bool:
    return isinstance(types, dict) and types.get("resourceTypeGeneral") in RESOURCE_TYPES_GENERAL


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeDataCite:
    """The server; start with `with FakeDataCite() as fake:` or the `fake_datacite` fixture."""

    def __init__(
        self, *, prefix: str = PREFIX, username: str = USERNAME, password: str = PASSWORD
    ) -> None:
        self.prefix = prefix
        self.username = username
        self.password = password
        self.url = ""
        self._registry = _Registry(prefix)
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._failure: _Failure | None = None
        self._hang_seconds: float | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-datacite", daemon=True
        )
        self._runner: web.AppRunner | None = None

    # -- what tests look at --------------------------------------------------------------

    @property
    def records(self) -> dict[str, FakeDoi]:
        """A snapshot of every DOI, keyed by DOI in lower case (as DataCite returns them)."""
        with self._lock:
            return copy.deepcopy(self._registry.dois)

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request answered so far, failed and hung ones included, oldest first."""
        with self._lock:
            return list(self._log)

    def doi_settings(self) -> DoiSettings:
        """Settings that point a DataCite client at this fake."""
        return DoiSettings(
            enabled=True,
            prefix=self.prefix,
            api_url=self.url,
            username=self.username,
            password=SecretStr(self.password),
        )

    def env(self) -> dict[str, str]:
        """The same settings as environment variables, for a worker process."""
        return {
            "DANDELION_DOI__ENABLED": "true",
            "DANDELION_DOI__PREFIX": self.prefix,
            "DANDELION_DOI__API_URL": self.url,
            "DANDELION_DOI__USERNAME": self.username,
            "DANDELION_DOI__PASSWORD": self.password,
        }

    # -- switches ------------------------------------------------------------------------

    def fail_with(
        self, status: int, *, retry_after: int | str | None = None, times: int | None = None
    ) -> None:
        """Answer `status` (with DataCite's error body) instead of handling requests: the
        next `times` requests, or all until `recover()`. State never changes meanwhile."""
        with self._lock:
            self._failure = _Failure(status, retry_after, times)

    def hang(self, seconds: float) -> None:
        """Hold each request `seconds` (or until `recover()`), then answer 504 without
        handling it: a DOI that gets registered afterwards was registered by a retry."""
        with self._lock:
            self._hang_seconds = seconds

    def recover(self) -> None:
        """Back to normal service; requests still hanging are released (with their 504)."""
        with self._lock:
            self._failure = None
            self._hang_seconds = None

    def reset(self) -> None:
        """No DOIs, no log, no failures: a fresh DataCite for the next test."""
        self.recover()
        with self._lock:
            self._registry.dois.clear()
            self._log.clear()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeDataCite:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop).result(timeout=10)
        except BaseException:
            sock.close()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.recover()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeDataCite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application(middlewares=[self._outages])
        app.router.add_post("/dois", self._create)
        app.router.add_route("*", "/dois/{doi:.+}", self._one)
        # A short shutdown: hung requests must not hold the test session's end.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    # -- HTTP ----------------------------------------------------------------------------

    @web.middleware
    async def _outages(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await _json_or_none(request)
        response = await self._outage_answer() or await handler(request)
        with self._lock:
            self._log.append(LoggedRequest(request.method, request.path, body, response.status))
        return response

    async def _outage_answer(self) -> web.Response | None:
        with self._lock:
            hang, failure = self._hang_seconds, copy.copy(self._failure)
            if self._failure is not None and self._failure.remaining is not None:
                self._failure.remaining -= 1
                if self._failure.remaining <= 0:
                    self._failure = None
        if hang is not None:
            await self._wait_hanging(hang)
            return _response(_errors(504, {"status": "504", "title": "Gateway Timeout"}))
        if failure is None:
            return None
        answer = _errors(failure.status, {"status": str(failure.status), "title": "Injected"})
        if failure.retry_after is not None:
            answer.headers["Retry-After"] = str(failure.retry_after)
        return _response(answer)

    async def _wait_hanging(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if self._hang_seconds is None:
                    return
            await asyncio.sleep(0.02)

    async def _create(self, request: web.Request) -> web.Response:
        return _response(await self._handle(request, None))

    async def _one(self, request: web.Request) -> web.Response:
        doi = request.match_info["doi"].lower()
        if request.method not in ("GET", "PUT", "DELETE"):
            return _response(_errors(405, {"status": "405", "title": "Method not allowed"}))
        return _response(await self._handle(request, doi))

    async def _handle(self, request: web.Request, doi: str | None) -> _Answer:
        credentials = self._credentials(request)
        if credentials is False or (credentials is None and request.method != "GET"):
            return _errors(401, BAD_CREDENTIALS)
        if request.method == "GET" and doi is not None:
            with self._lock:
                return self._registry.read(doi, authenticated=credentials is True)
        if request.method == "DELETE" and doi is not None:
            with self._lock:
                return self._registry.delete(doi)
        data = await _document_data(request)
        if isinstance(data, _Answer):
            return data
        with self._lock:
            return self._registry.create(data) if doi is None else self._registry.upsert(doi, data)

    def _credentials(self, request: web.Request) -> bool | None:
        """None without credentials, else whether they are this repository's."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and decoded == f"{self.username}:{self.password}"


async def _json_or_none(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


async def _document_data(request: web.Request) -> dict[str, Any] | _Answer:
    """The JSON:API `data` member of a write, or DataCite's answer to a malformed one."""
    if request.content_type != JSON_API:
        return _errors(406, {"status": "406", "title": "The content type is not recognized."})
    try:
        document = json.loads(await request.read())
    except ValueError:
        return _errors(
            400,
            {"status": "400", "title": "You need to provide a payload following the JSONAPI spec"},
        )
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("attributes", {}), dict):
        return _errors(
            422, {"status": "422", "title": "param is missing or the value is empty: data"}
        )
    return data


def _response(answer: _Answer) -> web.Response:
    if answer.body is None:
        return web.Response(status=answer.status, headers=answer.headers)
    return web.Response(
        status=answer.status,
        body=json.dumps(answer.body).encode(),
        content_type=JSON_API,
        charset="utf-8",
        headers=answer.headers,
    )


@pytest.fixture(scope="session")
def fake_datacite_server() -> Iterator[FakeDataCite]:
    """One server for the session; use `fake_datacite`, which also resets it."""
    with FakeDataCite() as fake:
        yield fake


@pytest.fixture
def fake_datacite(fake_datacite_server: FakeDataCite) -> Iterator[FakeDataCite]:
    """A DataCite with no DOIs and no failures, at `fake_datacite.url` (the API root)."""
    fake_datacite_server.reset()
    yield fake_datacite_server
    fake_datacite_server.reset()
