"""Errors of the doi service, split by what the caller must do next.

`DataCiteUnavailable` means "try again later" (with backoff, honouring `retry_after`);
`DataCiteRejected` and `PayloadInvalid` mean "retrying the same request cannot help": record
the error and surface it to admins. None of these is an `ArchiveError`: they never reach an
API client, they are outcomes of worker jobs.
"""

from __future__ import annotations

from typing import Any


class DoiError(Exception):
    """Base of every error raised by `dandelion_doi.datacite` and `dandelion_doi.payloads`."""


class DataCiteUnavailable(DoiError):
    """DataCite could not answer: a timeout, a connection failure, 429 or 5xx."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        # Seconds DataCite asked us to wait (its Retry-After header), if it said.
        self.retry_after = retry_after


class DataCiteRejected(DoiError):
    """DataCite refused the request (a 4xx other than 429); the same request fails again."""

    def __init__(self, status: int, errors: list[dict[str, Any]], *, doi: str) -> None:
        self.status = status
        # DataCite's JSON:API `errors` list, kept verbatim for admins.
        self.errors = errors
        self.doi = doi
        super().__init__(f"DataCite refused {doi} ({status}): {describe_errors(errors)}")


class DoiNotDraft(DataCiteRejected):
    """Only draft DOIs can be deleted (405); registered and findable ones can only be hidden."""


class PayloadInvalid(DoiError):
    """The metadata cannot make a valid DataCite payload, so nothing was sent."""


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """DataCite's errors as one readable line: "source: title; ..." (title alone if no source)."""
    parts = []
    for error in errors:
        title = str(error.get("title") or error.get("detail") or "no details")
        source = error.get("source")
        parts.append(f"{source}: {title}" if isinstance(source, str) and source else title)
    return "; ".join(parts) or "no error details"
