"""An asset's metadata document (dandischema's Asset) as terms and their values, for a
definition list: who the data is about, how it was recorded, and what the file is.

Only plain text comes out (each value is escaped by the template), and anything of an
unexpected shape is skipped rather than shown as Python's repr of it: the document is
written by uploaders and only partly validated in a draft.
"""

from __future__ import annotations

from typing import Any

Terms = list[tuple[str, list[str]]]


def _named(items: object, key: str = "name") -> list[str]:
    """`key` of each object of a list (`[{"name": "..."}]`), as text."""
    if not isinstance(items, list):
        return []
    return [str(i[key]) for i in items if isinstance(i, dict) and _text(i.get(key))]


def _text(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


def _field(obj: object, *keys: str) -> str | None:
    """`obj[k1][k2]...` when it is text."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return str(obj) if _text(obj) else None


def _of_kind(document: dict[str, Any], field: str, kind: str) -> list[dict[str, Any]]:
    items = document.get(field)
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, dict) and i.get("schemaKey") == kind]


def _each(objects: list[dict[str, Any]], *keys: str) -> list[str]:
    """The distinct texts at `keys` of the objects, in their order."""
    found = (_field(o, *keys) for o in objects)
    return list(dict.fromkeys(v for v in found if v))


def _session(activity: dict[str, Any]) -> str:
    parts = [
        _field(activity, "identifier"),
        _field(activity, "name"),
        _field(activity, "description"),
        _field(activity, "startDate"),
    ]
    return " · ".join(p for p in parts if p) or "—"


def terms(document: dict[str, Any]) -> Terms:
    """What the page lists about the data, in reading order; empty terms are left out."""
    participants = _of_kind(document, "wasAttributedTo", "Participant")
    sessions = _of_kind(document, "wasGeneratedBy", "Session")
    found: Terms = [
        ("Subject", _each(participants, "identifier")),
        ("Species", _each(participants, "species", "name")),
        ("Strain", _each(participants, "strain", "name")),
        ("Sex", _each(participants, "sex", "name")),
        ("Age", _each(participants, "age", "value")),
        ("Genotype", _each(participants, "genotype")),
        ("Session", [_session(s) for s in sessions]),
        ("Approaches", _named(document.get("approach"))),
        ("Measurement techniques", _named(document.get("measurementTechnique"))),
        ("Variables measured", _named(document.get("variableMeasured"), "value")),
        ("Keywords", [str(k) for k in document.get("keywords") or [] if _text(k)]),
        ("Access", _named(document.get("access"), "status")),
        ("Date modified", [d for d in [_field(document, "dateModified")] if d]),
        ("Schema version", [v for v in [_field(document, "schemaVersion")] if v]),
    ]
    return [(term, values) for term, values in found if values]


def digests(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(algorithm, value) of each digest, e.g. ("dandi:dandi-etag", "…-1")."""
    found = document.get("digest")
    if not isinstance(found, dict):
        return []
    return [(str(k), str(v)) for k, v in sorted(found.items()) if _text(v)]


def content_urls(document: dict[str, Any]) -> list[str]:
    urls = document.get("contentUrl")
    return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []
