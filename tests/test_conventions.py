"""The tree's conventions, checked on its syntax so that they are enforced, not remembered.

- Transactions commit only at the sanctioned commit points (a request, a job step, a command),
  never inside a service.
- Routers hold no queries: no `sqlalchemy` in any `router.py`.
- A service use case (a public function of a `service.py`, or of a service split by use case,
  taking the session first) takes its domain parameters by keyword, so a call site reads
  `publish(session, user=..., dandiset_id=...)` and two ids can never be swapped silently.
- Routes are the project's `APIRouter` (committing by default), never FastAPI's own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    path
    for top in ("services", "libs")
    for path in (ROOT / top).rglob("*.py")
    if "migrations" not in path.parts
)

# Where a transaction may end, and why there.
COMMIT_POINTS = {
    "libs/common/dandelion_common/web/routing.py": "the request's commit point (CommitRoute)",
    "libs/common/dandelion_common/jobs/worker.py": "a job step's commit point (job_session)",
    "libs/common/dandelion_common/commands.py": "an operator command's one transaction",
    "libs/common/dandelion_common/devstack/bootstrap.py": "the local stack's first admin",
    # The search worker's drain: claim outbox rows, write the engine, delete what it wrote;
    # each step commits before the next one's remote write (never across it).
    "services/search/dandelion_search/indexer.py": "the search drain's steps",
    # The PostgreSQL engine writes its own tables as OpenSearch takes a bulk request: a write
    # to the engine is complete when it returns, as with OpenSearch.
    "services/search/dandelion_search/backends/postgres.py": "the PostgreSQL engine's writes",
}
# Infrastructure a use case may take positionally after the session; the rest is domain.
INFRASTRUCTURE = {"session", "settings", "storage", "db", "backend", "queue"}


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def commits(module: ast.Module) -> Iterator[int]:
    for node in ast.walk(module):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit"
        ):
            yield node.lineno


def imported_modules(module: ast.Module) -> Iterator[str]:
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def is_service_module(path: Path) -> bool:
    return path.name == "service.py" or path.parent.name == "service"


def positional_domain_parameters(module: ast.Module) -> Iterator[tuple[str, list[str]]]:
    for node in module.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        positional = [a.arg for a in node.args.posonlyargs + node.args.args]
        if node.name.startswith("_") or positional[:1] != ["session"]:
            continue  # private helpers and pure functions are not use cases
        domain = [name for name in positional if name not in INFRASTRUCTURE]
        if domain:
            yield node.name, domain


def test_the_checks_see_the_tree() -> None:
    assert len(SOURCES) > 100
    assert any(path.name == "router.py" for path in SOURCES)
    assert sum(is_service_module(path) for path in SOURCES) >= 8
    for path in COMMIT_POINTS:
        assert (ROOT / path).is_file(), f"{path} is sanctioned but gone: update COMMIT_POINTS"


def test_the_detectors_find_what_they_look_for() -> None:
    snippet = ast.parse(
        "from sqlalchemy import select\n"
        "async def use(session, dandiset_id, *, user):\n"
        "    await session.commit()\n"
    )
    assert list(commits(snippet)) == [3]
    assert list(imported_modules(snippet)) == ["sqlalchemy"]
    assert list(positional_domain_parameters(snippet)) == [("use", ["dandiset_id"])]


def test_transactions_commit_only_at_the_commit_points() -> None:
    found = [
        f"{relative(path)}:{line}"
        for path in SOURCES
        if relative(path) not in COMMIT_POINTS
        for line in commits(tree(path))
    ]
    assert found == [], "commit at the request's, job step's or command's commit point"


def test_routers_hold_no_queries() -> None:
    found = [
        relative(path)
        for path in SOURCES
        if path.name == "router.py"
        and any(name.split(".")[0] == "sqlalchemy" for name in imported_modules(tree(path)))
    ]
    assert found == [], "queries belong in a repository or service, not in a router"


def test_use_cases_take_domain_parameters_by_keyword() -> None:
    found = [
        f"{relative(path)}: {name}({', '.join(domain)})"
        for path in SOURCES
        if is_service_module(path)
        for name, domain in positional_domain_parameters(tree(path))
    ]
    assert found == [], "make these keyword-only (after a bare `*`)"


def test_routers_are_the_projects_own() -> None:
    """FastAPI's own router would let a route skip the commit point (rolling a write back)."""
    found = [
        relative(path)
        for path in SOURCES
        if relative(path) != "libs/common/dandelion_common/web/routing.py"
        for node in ast.walk(tree(path))
        if isinstance(node, ast.ImportFrom)
        and node.module in {"fastapi", "fastapi.routing"}
        and any(alias.name == "APIRouter" for alias in node.names)
    ]
    assert found == [], "use dandelion_common.web.routing.APIRouter"
