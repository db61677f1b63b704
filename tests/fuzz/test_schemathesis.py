"""Schemathesis against the live OpenAPI schemas of both HTTP apps, on every route, as three
callers: anonymous, an approved user and an admin.

Each generated request must answer without a server error, with a status code and a body
that the schema documents, and a request that breaks the schema must be refused with a 4xx.
Generation is deterministic (a fixed seed, Hypothesis derandomized, no example database), so
CI sees the same cases every run.

Every test (one operation, one caller) gets fresh objects to act on, so a DELETE fuzzed
early cannot leave later operations nothing but 404s. Identifiers in paths and in bodies are
mostly swapped for those objects' (the caller's own, and another user's embargoed ones),
sometimes kept as generated, so requests reach the handlers' logic.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fuzz.live import LiveStack, Targets, Users
from hypothesis import HealthCheck, settings
from schemathesis import APIOperation, Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dandelion_api.app import create_app as create_api_app
from dandelion_common.settings import Environment, Settings
from dandelion_search.app import create_app as create_search_app

SEED = 20261124
# Per operation and caller, for the fuzzing phase (the examples and coverage phases add cases
# of their own): a run sends several thousand requests in under two minutes on two cores.
MAX_EXAMPLES = 8
MIN_CASES = 2000
CALLERS = ("anonymous", "approved", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
ApiCase = Case[APIOperation[Any, Any, Any, Any]]
CONFIG = schemathesis.Config.from_dict(
    {"seed": SEED, "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES}}
)
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# Requests sent, by (app, caller), and answers by (operation, status): the closing test
# checks the total and prints both.
TALLY: Counter[tuple[str, str]] = Counter()
ANSWERS: Counter[tuple[str, int]] = Counter()

# Schemathesis parametrizes at collection, before any server runs, so the schemas come from
# the apps themselves; test_schemas_are_live proves the running processes serve the same.
_SETTINGS = Settings(environment=Environment.TEST)
API_APP, SEARCH_APP = create_api_app(_SETTINGS), create_search_app(_SETTINGS)
api_schema = schemathesis.openapi.from_dict(API_APP.openapi(), config=CONFIG)
search_schema = schemathesis.openapi.from_dict(SEARCH_APP.openapi(), config=CONFIG)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def targets(live: LiveStack) -> Targets:
    return live.seeder.targets(live.users)


def test_schemas_are_live(live: LiveStack, http: requests.Session) -> None:
    """The schemas fuzzed below are the ones the running processes serve."""
    served_api = http.get(f"{live.api}/api/docs/openapi.json", timeout=30).json()
    served_search = http.get(f"{live.search}/api/search/docs/openapi.json", timeout=30).json()
    assert served_api == API_APP.openapi()
    assert served_search == SEARCH_APP.openapi()


def _pick(generated: Any, real: list[Any]) -> Any:
    """One of `real` or `generated`, chosen by the generated value (so runs repeat)."""
    choices = [*real, generated]
    return choices[zlib.crc32(repr(generated).encode()) % len(choices)]


def aim(case: ApiCase, targets: Targets, users: Users) -> None:
    """Swap generated identifiers for real ones, in place (see the module docstring)."""
    paths = {
        "dandiset_id": [targets.own_dandiset, targets.foreign_dandiset],
        "version": targets.versions,
        "asset_id": [*targets.asset_ids, targets.foreign_asset_id],
        "upload_id": [targets.upload_id],
        "zarr_id": targets.zarr_ids,
    }
    for name, value in (case.path_parameters or {}).items():
        case.path_parameters[name] = _pick(value, paths.get(name, []))
    fields = {
        "blob_id": [targets.spare_blob_id],
        "dandiset": [targets.own_dandiset, targets.foreign_dandiset],
        "username": list(users.usernames.values()),
        "path": ["0/0"],  # the one file of the zarr archive (zarr file bodies)
    }
    body = case.body
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict):
            for name in fields.keys() & item.keys():
                item[name] = _pick(item[name], fields[name])
    # Reading `meta` revalidates the swapped components: a negative case may have become
    # valid, and must then be judged as one.
    assert case.meta is not None


def send(
    case: ApiCase, app: str, base_url: str, users: Users, caller: str, http: requests.Session
) -> None:
    key = users.keys.get(caller)
    headers = {"Authorization": f"token {key}"} if key else {}
    TALLY[(app, caller)] += 1
    response = case.call_and_validate(
        base_url=base_url, session=http, headers=headers, checks=CHECKS
    )
    operation = (case.operation.method.upper(), case.operation.path)
    ANSWERS[(" ".join(operation), response.status_code)] += 1
    if operation == ("POST", "/api/auth/token/") and response.status_code == 200:
        # The caller's key was just replaced: later cases must present the new one.
        users.keys[caller] = response.json()


@pytest.mark.parametrize("caller", CALLERS)
@api_schema.parametrize()
@FUZZ_SETTINGS
def test_api(
    case: ApiCase, caller: str, live: LiveStack, targets: Targets, http: requests.Session
) -> None:
    aim(case, targets, live.users)
    send(case, "api", live.api, live.users, caller, http)


@pytest.mark.parametrize("caller", CALLERS)
@search_schema.parametrize()
@FUZZ_SETTINGS
def test_search_api(case: ApiCase, caller: str, live: LiveStack, http: requests.Session) -> None:
    send(case, "search", live.search, live.users, caller, http)


@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (500, {"detail": "Internal server error."}, "ServerError"),
        (418, {"detail": "I'm a teapot"}, "UndefinedStatusCode"),
        (200, {"results": "not a page"}, "JsonSchemaError"),
    ],
)
def test_the_checks_can_fail(status: int, body: Any, failure: str) -> None:
    """The fuzz tests' checks refuse a 5xx, an undocumented status and a body off-schema."""
    case = api_schema["/api/dandisets/"]["GET"].Case()
    request = httpx.Request("GET", "http://testserver/api/dandisets/")
    response = httpx.Response(status, json=body, request=request)
    response.elapsed = timedelta(0)  # read by schemathesis; set by httpx only when sent
    with pytest.raises(FailureGroup) as caught:
        case.validate_response(response, checks=CHECKS)
    assert failure in {type(error).__name__ for error in caught.value.exceptions}


def test_enough_cases_were_generated(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the fuzz tests above (file order): fewer cases than promised fails.

    The total goes to the terminal whatever the capture; the answers per operation are
    printed (`-rP` shows them)."""
    if not TALLY:
        pytest.skip("the fuzz tests were deselected")
    total = sum(TALLY.values())
    by_caller = ", ".join(f"{app} as {caller}: {n}" for (app, caller), n in sorted(TALLY.items()))
    with capsys.disabled():
        print(f"\nschemathesis: {total} cases ({by_caller})")
    for operation in sorted({op for op, _ in ANSWERS}):
        statuses = {s: n for (op, s), n in sorted(ANSWERS.items()) if op == operation}
        print(f"  {operation}: {statuses}")
    assert total >= MIN_CASES, by_caller
