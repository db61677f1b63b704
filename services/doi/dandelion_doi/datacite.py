"""A thin async client for DataCite's REST API: the only module that talks to DataCite.

Every write is a `PUT /dois/{doi}`: DataCite treats it as an upsert (201 created, 200
updated, attributes not sent are kept), so a retried call converges on the same record. The
client does not retry by itself; it sorts failures into `DataCiteUnavailable` (retry later,
with backoff) and `DataCiteRejected` (record it; the same request fails again), and the doi
worker's durable jobs do the retrying.

`publish=False` is DANDI's ``DOI_PUBLISH=false`` (sandbox and development archives): state
events (``publish``, ``register``, ``hide``, ``show``) are removed before sending, so DOIs are
created and updated as drafts only and nothing ever becomes findable by accident.
"""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self, cast
from urllib.parse import quote

import httpx

from dandelion_common.settings import DoiSettings
from dandelion_doi.exceptions import (
    DataCiteRejected,
    DataCiteUnavailable,
    DoiError,
    DoiNotDraft,
)

logger = logging.getLogger("dandelion.doi")

JSON_API = "application/vnd.api+json"
DoiState = Literal["draft", "registered", "findable"]
STATES: tuple[DoiState, ...] = ("draft", "registered", "findable")
# The events that move a DOI between states; with publish=False none of them is sent.
STATE_EVENTS = frozenset({"publish", "register", "hide", "show"})


@dataclass(frozen=True)
class DoiRecord:
    """A DOI as DataCite holds it."""

    doi: str
    state: DoiState
    url: str | None
    # DataCite's attributes as returned (metadata plus its own fields: state, prefix, ...).
    attributes: dict[str, Any]


class DataCiteClient:
    """DataCite's `/dois` endpoints with basic auth; built once per worker, closed on shutdown."""

    def __init__(
        self,
        settings: DoiSettings,
        *,
        publish: bool,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        if not (settings.username and settings.password):
            raise ValueError("the DataCite client needs doi.username and doi.password")
        if not settings.api_url.startswith(("https://", "http://")):
            raise ValueError(f"doi.api_url must be an http(s) URL, not {settings.api_url!r}")
        self.publish = publish
        self._stripped_events_logged = False
        self._http = httpx.AsyncClient(
            # The API root, e.g. https://api.test.datacite.org (not DANDI's ".../dois").
            base_url=settings.api_url.rstrip("/"),
            auth=httpx.BasicAuth(settings.username, settings.password.get_secret_value()),
            headers={"Accept": JSON_API},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        )

    async def put_doi(self, doi: str, attributes: Mapping[str, Any]) -> DoiRecord:
        """Create or update `doi` with `attributes` (which may carry an ``event``)."""
        body = {"data": {"id": doi, "type": "dois", "attributes": self._outgoing(doi, attributes)}}
        response = await self._request("PUT", doi, body)
        if response.status_code in (200, 201):
            return _record(response, doi)
        raise _failure(response, doi)

    async def get_doi(self, doi: str) -> DoiRecord | None:
        """The DOI as DataCite holds it, or None if DataCite does not know it."""
        response = await self._request("GET", doi)
        if response.status_code == 200:
            return _record(response, doi)
        if response.status_code == 404:
            return None
        raise _failure(response, doi)

    async def delete_draft(self, doi: str) -> bool:
        """Delete a draft DOI: True if deleted, False if absent; `DoiNotDraft` otherwise."""
        response = await self._request("DELETE", doi)
        if response.status_code == 204:
            return True
        if response.status_code == 404:
            return False
        raise _failure(response, doi)

    async def hide(self, doi: str) -> DoiRecord | None:
        """Make a findable DOI registered (resolvable, no longer listed); None if publish=False.

        Hide only DOIs known to exist: as a PUT, it would create an empty draft otherwise.
        """
        if not self.publish:
            logger.info("DOI publishing is off: not hiding %s", doi)
            return None
        return await self.put_doi(doi, {"event": "hide"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _outgoing(self, doi: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        named = attributes.get("doi")
        if named is not None and str(named).lower() != doi.lower():
            raise ValueError(f"attributes name DOI {named!r} but the request is for {doi!r}")
        outgoing = dict(attributes)
        if self.publish or "event" not in outgoing:
            return outgoing
        del outgoing["event"]
        if not self._stripped_events_logged:
            logger.warning("DOI publishing is off: DOIs stay drafts (events are not sent)")
            self._stripped_events_logged = True
        return outgoing

    async def _request(
        self, method: str, doi: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        path = f"/dois/{quote(doi, safe='/')}"  # DataCite takes the DOI's slash unescaped
        content = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": JSON_API}
        try:
            return await self._http.request(method, path, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise DataCiteUnavailable(f"DataCite timed out on {method} {doi}") from exc
        except httpx.RequestError as exc:
            raise DataCiteUnavailable(f"DataCite unreachable on {method} {doi}: {exc!r}") from exc


def _record(response: httpx.Response, doi: str) -> DoiRecord:
    try:
        attributes = response.json()["data"]["attributes"]
        state = attributes["state"]
    except (ValueError, KeyError, TypeError) as exc:
        # A proxy's error page or a truncated answer: treated like an outage, so it is retried.
        raise DataCiteUnavailable(f"DataCite sent an unreadable record for {doi}") from exc
    if state not in STATES:
        raise DataCiteUnavailable(f"DataCite reports {doi} in unexpected state {state!r}")
    return DoiRecord(
        doi=str(attributes.get("doi") or doi),
        state=cast(DoiState, state),
        url=attributes.get("url"),
        attributes=attributes,
    )


def _failure(response: httpx.Response, doi: str) -> DoiError:
    status = response.status_code
    if status == 429 or status >= 500:
        return DataCiteUnavailable(
            f"DataCite answered {status} for {doi}",
            status=status,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    errors = _errors(response)
    if status == 405:
        return DoiNotDraft(status, errors, doi=doi)
    return DataCiteRejected(status, errors, doi=doi)


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    """DataCite's JSON:API `errors`, or one made from the status when the body has none."""
    try:
        errors = response.json()["errors"]
    except (ValueError, KeyError, TypeError):
        errors = None
    if isinstance(errors, list) and all(isinstance(e, dict) for e in errors):
        return errors
    return [{"status": str(response.status_code), "title": response.text[:200] or "(no body)"}]


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no zone information
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
