"""The search core's errors, mapped to DANDI's error shapes by the archive's one handler."""

from __future__ import annotations

from dandelion_common.errors import BadRequest, ServiceUnavailable


class InvalidCursor(BadRequest):
    def __init__(self) -> None:
        super().__init__("Invalid cursor.")


class SearchUnavailable(ServiceUnavailable):
    """The search engine did not answer or refused a request."""
