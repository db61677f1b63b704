"""The shared library imports no service: every arrow runs from services/ to libs/, never back.

Services register what `dandelion` runs through entry points (see dandelion_common.cli), so
nothing under libs/ needs to name one: not in an import statement, not inside a function, not
as a module path in a string (`importlib.import_module`, uvicorn's "module:app"), and not as a
package name assembled at run time (f"dandelion_{name}").
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

LIBS = Path(__file__).resolve().parents[2] / "libs"
SERVICES = (
    "dandelion_api",
    "dandelion_ingest",
    "dandelion_search",
    "dandelion_doi",
    "dandelion_web",
)
# A whole string that is a service's module path, optionally with ":attribute".
MODULE_PATH = re.compile(rf"(?:{'|'.join(SERVICES)})(?:\.\w+)*(?::[\w.]+)?")


def _names(node: ast.AST) -> Iterator[str]:
    """The module names an import refers to, and every string literal (which may hold one)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        yield node.module
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value


def _is_service(name: str) -> bool:
    # The parts of an f-string are Constants too: f"dandelion_{queue}.worker" has "dandelion_".
    return bool(
        name.partition(".")[0] in SERVICES
        or MODULE_PATH.fullmatch(name)
        or name.endswith("dandelion_")
    )


def service_references(source: str) -> list[tuple[int, str]]:
    """(line, name) of each place `source` imports or names a service module."""
    found = [
        (getattr(node, "lineno", 0), name)
        for node in ast.walk(ast.parse(source))
        for name in _names(node)
        if _is_service(name)
    ]
    return sorted(found)


def test_no_module_under_libs_names_a_service() -> None:
    modules = sorted(LIBS.rglob("*.py"))
    assert LIBS / "common" / "dandelion_common" / "cli.py" in modules  # the scan sees the tree

    offences = {
        str(path.relative_to(LIBS)): refs
        for path in modules
        if (refs := service_references(path.read_text()))
    }

    assert offences == {}


@pytest.mark.parametrize(
    "source",
    [
        "import dandelion_api",
        "import dandelion_search.indexer as indexer",
        "from dandelion_doi.worker import QUEUE",
        "def gc():\n    from dandelion_ingest.gc import collect\n",
        "import importlib\nimportlib.import_module('dandelion_ingest.worker')",
        "APPS = {'api': 'dandelion_api.app:create_app'}",
        "WORKERS = {q: f'dandelion_{q}.worker' for q in QUEUES}",
        "module = __import__('dandelion_' + name)",
        "from dandelion_web import app",
    ],
)
def test_the_detector_finds_a_service_named(source: str) -> None:
    assert service_references(source)


@pytest.mark.parametrize(
    "source",
    [
        "import dandelion_common.cli\nfrom dandelion_common.settings import Settings",
        '"""Shared by the indexer (dandelion_search) and the queriers."""',
        "PREFIX = 'DANDELION_'",
        "NAME = 'dandelion_apis'",
        "from . import errors",
    ],
)
def test_the_detector_leaves_the_shared_library_alone(source: str) -> None:
    assert service_references(source) == []
