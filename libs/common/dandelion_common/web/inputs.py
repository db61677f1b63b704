"""Input no handler should see, refused with a 400 before any handler runs.

- NUL and unpaired UTF-16 surrogates (JSON can spell one as `\\ud800`): PostgreSQL's `text`
  and `jsonb` hold neither, so either used to fail deep inside a query as a 500, possibly
  after other writes of the request. DRF refuses NUL in its fields with the message used here.
- The other C0 control characters but tab, newline and carriage return: XML 1.0 cannot carry
  them (DataCite keeps DOI metadata as XML, so a DOI job would fail on them forever), and a
  terminal listing names or paths would run them as escape sequences.
- JSON nested more than `MAX_DEPTH` levels: stored, such a document could not be served
  again (pydantic's serializer gives up at a few hundred levels, a 500 on every read).

Query parameters and JSON bodies are both checked, in field-error shape.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from dandelion_common.errors import FieldErrors

MAX_DEPTH = 64  # DANDI's metadata is about ten levels deep
NUL_MESSAGE = "Null characters are not allowed."
CONTROL_MESSAGE = "Control characters and unpaired surrogates are not allowed."
DEPTH_MESSAGE = f"Nested more than {MAX_DEPTH} levels deep."
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def problem(value: Any, *, depth: int = 1) -> str | None:
    """Why `value`, a parsed JSON document at nesting level `depth`, is refused, or None.

    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    pending: list[tuple[Any, int]] = [(value, depth)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return NUL_MESSAGE
            if _CONTROL.search(item):
                return CONTROL_MESSAGE
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return DEPTH_MESSAGE
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


async def refuse_unsafe_input(request: Request) -> None:
    """A dependency of every route: 400 with `{"field": [why]}` for such query parameters or
    JSON body fields."""
    route = request.scope.get("route")
    takes_body = isinstance(route, APIRoute) and route.body_field is not None
    if not request.scope.get("query_string") and not takes_body:
        return  # most reads: nothing to look at
    errors: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if why := problem(name) or problem(value):
            errors[name] = [why]
    # Only bodies the route itself parses: FastAPI has parsed them already (this reads its
    # cached parse), and a body sent to a route that takes none is never looked at.
    if takes_body:
        body = await _json_body(request)
        if isinstance(body, dict):
            for name, value in body.items():
                # The body is the first level, its fields' values the second.
                if why := problem(name) or problem(value, depth=2):
                    errors[str(name)] = [why]
        elif why := problem(body):
            errors["non_field_errors"] = [why]
    if errors:
        raise FieldErrors(errors)


async def _json_body(request: Request) -> Any:
    if "json" not in request.headers.get("content-type", "json") or not await request.body():
        return None
    return await request.json()
