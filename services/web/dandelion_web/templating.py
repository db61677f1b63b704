"""Jinja2 templates: autoescaped, with a fragment of a page answered to htmx requests.

Every page is a whole document for a browser without JavaScript; when htmx asks (the
`HX-Request` header) for an update of one part, the same template answers only that block,
so the server renders one source of truth for both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from dandelion_web import filters

HTMX_VERSION = "2.0.11"

_TEMPLATES = Path(__file__).parent / "templates"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        # Every value is escaped unless a filter marks it safe on purpose (filters.py).
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    filters.install(env)
    env.globals["htmx_version"] = HTMX_VERSION
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    fragment: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page `name`, or only its block `fragment` when htmx asks for an update (and the
    request is not a history restore, which needs the whole page)."""
    env: jinja2.Environment = request.app.state.templates
    template = env.get_template(name)
    values = {"request": request, **context}
    restoring = request.headers.get("hx-history-restore-request") == "true"
    if fragment is not None and is_htmx(request) and not restoring:
        html = _fragment(template, fragment, template.new_context(values))
    else:
        html = template.render(values)
    answer = HTMLResponse(html, status_code=status_code, headers=headers)
    # A fragment and its page share a URL: caches must keep them apart.
    answer.headers["Vary"] = "HX-Request"
    return answer


def _fragment(template: jinja2.Template, block: str, context: Any) -> str:
    """One block of a page, led by the page's <title>: htmx makes a fragment's top-level
    title the document's, so the tab and the history entry name the state a swap shows."""
    html = "".join(template.blocks[block](context))
    title = template.blocks.get("title")
    if title is None:
        return html
    return f"<title>{''.join(title(context)).strip()}</title>{html}"
