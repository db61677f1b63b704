"""Error responses in the OpenAPI documents, in the shapes `web/errors.py` renders.

Routes name the errors they can answer with `responses=errors(403, 404)`. FastAPI documents a
422 for every route with parameters, but the handler answers DRF's 400 with messages by
field instead; `document_validation_errors` rewrites the generated document to say so.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

# The three shapes of `dandelion_common.errors`: `{"detail": ...}`, a bare message, and
# messages by field (DRF's).
_DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_MESSAGE: dict[str, Any] = {"type": "string"}
_FIELDS: dict[str, Any] = {
    "type": "object",
    # A list of messages per field; DRF renders a lone message as is (`{"search": "..."}`).
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}

_ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "Invalid request: a message, messages by field, or a body that is no JSON (detail).",
        {"anyOf": [_MESSAGE, _FIELDS, _DETAIL]},
    ),
    401: ("Credentials are needed and missing, or the API key is unknown.", _DETAIL),
    403: ("The caller may not do this.", _DETAIL),
    404: ("No such object, or a page past the last one.", _DETAIL),
    405: ("Only draft versions can be modified.", _DETAIL),
    409: ("Conflicts with what exists.", _MESSAGE),
    413: ("The request body is too large.", _DETAIL),
    423: ("The dandiset is being published.", _MESSAGE),
}
# FastAPI's own models of its 422 body, unused once the 422s are gone.
_FASTAPI_VALIDATION_MODELS = ("HTTPValidationError", "ValidationError")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for error statuses a route answers."""
    return {
        code: {
            "description": _ERRORS[code][0],
            "content": {"application/json": {"schema": _ERRORS[code][1]}},
        }
        for code in codes
    }


def _replace_422(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", errors(400)[400])
    schemas = document.get("components", {}).get("schemas", {})
    removed = {name: schemas.pop(name) for name in _FASTAPI_VALIDATION_MODELS if name in schemas}
    text = json.dumps(document)
    for name, schema in removed.items():
        # Only FastAPI's models go: a model of ours by that name would still be referenced.
        if f'"#/components/schemas/{name}"' in text:
            schemas[name] = schema


def document_validation_errors(app: FastAPI) -> None:
    """Make `app.openapi()` document a 400 (DRF's field errors) wherever FastAPI says 422."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _replace_422(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
