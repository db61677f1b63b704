"""The fake DataCite against DataCite's documented REST semantics (reference D.5), spoken to
in plain HTTP so that these tests check the fake, not our client."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from doi.fake_datacite import JSON_API, FakeDataCite

DOI = "10.80507/dandelion.000001"
COMPLETE = {
    "url": "https://dandelion.example.org/dandiset/000001",
    "titles": [{"title": "Mouse V1"}],
    "creators": [{"name": "Owner, E", "nameType": "Personal"}],
    "publisher": {"name": "DANDELION Archive"},
    "publicationYear": "2024",
    "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Neural Data"},
}
# The state each event leads to from each state; an event that does not apply changes nothing.
TRANSITIONS = [
    ("draft", "publish", "findable"),
    ("draft", "register", "registered"),
    ("draft", "hide", "draft"),
    ("draft", "show", "draft"),
    ("registered", "publish", "findable"),
    ("registered", "register", "registered"),
    ("registered", "hide", "registered"),
    ("registered", "show", "findable"),
    ("findable", "publish", "findable"),
    ("findable", "register", "findable"),
    ("findable", "hide", "registered"),
    ("findable", "show", "findable"),
    ("findable", "no-such-event", "findable"),
]
REACH = {"draft": None, "registered": "register", "findable": "publish"}
# One TLS context for every client: loading CA certificates per client costs about 50 ms,
# and the fake speaks plain HTTP anyway.
TLS = ssl.create_default_context()


def http(fake: FakeDataCite, *, password: str | None = None, timeout: float = 5) -> httpx.Client:
    return httpx.Client(
        base_url=fake.url,
        auth=(fake.username, password or fake.password),
        headers={"Content-Type": JSON_API, "Accept": JSON_API},
        timeout=timeout,
        verify=TLS,
    )


def body(attributes: dict[str, Any], doi: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "dois", "attributes": attributes}
    if doi:
        data["id"] = doi
    return {"data": data}


def put(fake: FakeDataCite, attributes: dict[str, Any], doi: str = DOI) -> httpx.Response:
    with http(fake) as client:
        return client.put(f"/dois/{doi}", json=body(attributes))


def in_state(fake: FakeDataCite, state: str) -> None:
    event = REACH[state]
    response = put(fake, {**COMPLETE, **({"event": event} if event else {})})
    assert response.json()["data"]["attributes"]["state"] == state


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith(JSON_API)
    found: list[dict[str, Any]] = response.json()["errors"]
    return found


def test_put_creates_a_draft_from_a_doi_alone(fake_datacite: FakeDataCite) -> None:
    response = put(fake_datacite, {})

    assert response.status_code == 201
    attributes = response.json()["data"]["attributes"]
    assert (attributes["doi"], attributes["prefix"], attributes["suffix"]) == (
        DOI,
        "10.80507",
        "dandelion.000001",
    )
    assert attributes["state"] == "draft"
    assert fake_datacite.records[DOI].state == "draft"


def test_put_on_an_existing_doi_updates_only_the_attributes_sent(
    fake_datacite: FakeDataCite,
) -> None:
    put(fake_datacite, {"url": COMPLETE["url"], "titles": [{"title": "Old"}]})

    response = put(fake_datacite, {"titles": [{"title": "New"}]})

    assert response.status_code == 200
    kept = fake_datacite.records[DOI].attributes
    assert kept["titles"] == [{"title": "New"}]
    assert kept["url"] == COMPLETE["url"]
    assert "event" not in kept


def test_post_creates_and_refuses_a_taken_doi(fake_datacite: FakeDataCite) -> None:
    with http(fake_datacite) as client:
        created = client.post("/dois", json=body({"doi": DOI}))
        again = client.post("/dois", json=body({"doi": DOI}))

    assert created.status_code == 201
    assert created.json()["data"]["attributes"]["state"] == "draft"
    assert again.status_code == 422
    assert errors(again) == [
        {"source": "doi", "uid": DOI, "title": "This DOI has already been taken"}
    ]


def test_post_with_a_prefix_only_gets_a_new_suffix(fake_datacite: FakeDataCite) -> None:
    with http(fake_datacite) as client:
        response = client.post("/dois", json=body({"prefix": "10.80507"}))

    assert response.status_code == 201
    doi = response.json()["data"]["id"]
    assert doi.startswith("10.80507/")
    assert len(doi) > len("10.80507/")
    assert doi in fake_datacite.records


@pytest.mark.parametrize(("start", "event", "end"), TRANSITIONS)
def test_events_move_between_states_and_inapplicable_ones_are_ignored(
    fake_datacite: FakeDataCite, start: str, event: str, end: str
) -> None:
    in_state(fake_datacite, start)

    response = put(fake_datacite, {"event": event})

    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["state"] == end
    assert fake_datacite.records[DOI].state == end


def test_a_findable_doi_needs_a_url_and_the_mandatory_metadata(
    fake_datacite: FakeDataCite,
) -> None:
    response = put(fake_datacite, {"titles": [{"title": "Only a title"}], "event": "publish"})

    assert response.status_code == 422
    sources = {error["source"] for error in errors(response)}
    assert sources == {"url", "creators", "publisher", "publicationYear", "types"}
    assert all(error["uid"] == DOI for error in errors(response))
    assert fake_datacite.records == {}, "a refused request saves nothing"


def test_an_update_that_breaks_a_findable_doi_is_refused_and_changes_nothing(
    fake_datacite: FakeDataCite,
) -> None:
    in_state(fake_datacite, "findable")

    response = put(fake_datacite, {"url": None, "titles": [{"title": "Changed"}]})

    assert response.status_code == 422
    assert [error["source"] for error in errors(response)] == ["url"]
    assert fake_datacite.records[DOI].attributes["titles"] == COMPLETE["titles"]


def test_a_draft_url_must_still_be_a_url(fake_datacite: FakeDataCite) -> None:
    response = put(fake_datacite, {"url": "dandelion.example.org"})

    assert response.status_code == 422
    assert errors(response)[0]["source"] == "url"


def test_get_reads_a_doi_case_insensitively_and_answers_404_for_unknown_ones(
    fake_datacite: FakeDataCite,
) -> None:
    in_state(fake_datacite, "registered")

    with http(fake_datacite) as client:
        found = client.get(f"/dois/{DOI.upper()}")
        missing = client.get("/dois/10.80507/dandelion.999999")

    assert found.status_code == 200
    assert found.json()["data"]["attributes"]["state"] == "registered"
    assert missing.status_code == 404
    assert errors(missing) == [
        {"status": "404", "title": "The resource you are looking for doesn't exist."}
    ]


@pytest.mark.parametrize(("state", "visible"), [("draft", False), ("findable", True)])
def test_only_findable_dois_are_public(
    fake_datacite: FakeDataCite, state: str, visible: bool
) -> None:
    in_state(fake_datacite, state)

    response = httpx.get(f"{fake_datacite.url}/dois/{DOI}", verify=TLS)

    assert response.status_code == (200 if visible else 404)


def test_delete_removes_a_draft(fake_datacite: FakeDataCite) -> None:
    in_state(fake_datacite, "draft")

    with http(fake_datacite) as client:
        deleted = client.delete(f"/dois/{DOI}")
        again = client.delete(f"/dois/{DOI}")

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert fake_datacite.records == {}


@pytest.mark.parametrize("state", ["registered", "findable"])
def test_delete_refuses_a_doi_that_left_draft(fake_datacite: FakeDataCite, state: str) -> None:
    in_state(fake_datacite, state)

    with http(fake_datacite) as client:
        response = client.delete(f"/dois/{DOI}")

    assert response.status_code == 405
    assert "PUT" in response.headers["Allow"]
    assert errors(response) == [{"status": "405", "title": "Method not allowed"}]
    assert fake_datacite.records[DOI].state == state


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST"])
def test_writes_need_the_repository_credentials(fake_datacite: FakeDataCite, method: str) -> None:
    path = "/dois" if method == "POST" else f"/dois/{DOI}"
    document = None if method == "DELETE" else body({"doi": DOI})
    headers = {"Content-Type": JSON_API}

    anonymous = httpx.request(
        method, fake_datacite.url + path, json=document, headers=headers, verify=TLS
    )
    with http(fake_datacite, password="wrong") as client:
        wrong = client.request(method, path, json=document)

    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert errors(response) == [{"status": "401", "title": "Bad credentials."}]
    assert fake_datacite.records == {}


def test_a_prefix_of_another_repository_is_forbidden(fake_datacite: FakeDataCite) -> None:
    response = put(fake_datacite, {}, doi="10.48324/dandi.000001")

    assert response.status_code == 403
    assert errors(response)[0]["title"] == "You are not authorized to access this resource."


def test_put_on_a_malformed_doi_is_not_found(fake_datacite: FakeDataCite) -> None:
    response = put(fake_datacite, {}, doi="dandelion.000001")

    assert response.status_code == 404


def test_writes_must_be_json_api(fake_datacite: FakeDataCite) -> None:
    with http(fake_datacite) as client:
        plain_json = client.put(
            f"/dois/{DOI}", content=b"{}", headers={"Content-Type": "application/json"}
        )
        not_json = client.put(f"/dois/{DOI}", content=b"{not json")
        no_data = client.put(f"/dois/{DOI}", json={"attributes": {}})

    assert plain_json.status_code == 406
    assert not_json.status_code == 400
    assert no_data.status_code == 422
    assert fake_datacite.records == {}


def test_fail_with_answers_the_status_until_recovered_and_changes_nothing(
    fake_datacite: FakeDataCite,
) -> None:
    fake_datacite.fail_with(500)

    first, second = put(fake_datacite, {}), put(fake_datacite, {})

    assert (first.status_code, second.status_code) == (500, 500)
    assert errors(first)[0]["status"] == "500"
    assert fake_datacite.records == {}
    fake_datacite.recover()
    assert put(fake_datacite, {}).status_code == 201


def test_fail_with_a_count_fails_that_many_requests(fake_datacite: FakeDataCite) -> None:
    fake_datacite.fail_with(429, retry_after=7, times=2)

    statuses = [put(fake_datacite, {}) for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 429, 201]
    assert statuses[0].headers["Retry-After"] == "7"


def test_a_hung_request_ends_in_a_timeout_and_is_never_applied(
    fake_datacite: FakeDataCite,
) -> None:
    fake_datacite.hang(0.3)

    with http(fake_datacite, timeout=0.1) as client, pytest.raises(httpx.ReadTimeout):
        client.put(f"/dois/{DOI}", json=body({}))
    deadline = time.monotonic() + 5
    while not fake_datacite.requests and time.monotonic() < deadline:
        time.sleep(0.05)  # the fake answers the hung request once its 0.3 s are over

    assert [r.status for r in fake_datacite.requests] == [504]
    assert fake_datacite.records == {}


def test_recover_releases_hung_requests(fake_datacite: FakeDataCite) -> None:
    fake_datacite.hang(30)
    threading.Timer(0.2, fake_datacite.recover).start()
    started = time.monotonic()

    response = put(fake_datacite, {})

    assert response.status_code == 504
    assert time.monotonic() - started < 5
    assert put(fake_datacite, {}).status_code == 201


def test_the_request_log_keeps_method_path_body_and_status(fake_datacite: FakeDataCite) -> None:
    put(fake_datacite, {"url": COMPLETE["url"]})
    with http(fake_datacite) as client:
        client.delete(f"/dois/{DOI}")

    assert [(r.method, r.path, r.status) for r in fake_datacite.requests] == [
        ("PUT", f"/dois/{DOI}", 201),
        ("DELETE", f"/dois/{DOI}", 204),
    ]
    assert fake_datacite.requests[0].body == body({"url": COMPLETE["url"]})


def test_another_process_reaches_the_fake_with_its_env(fake_datacite: FakeDataCite) -> None:
    script = (
        "import asyncio\n"
        "from dandelion_common.settings import Settings\n"
        "from dandelion_doi.datacite import DataCiteClient\n"
        "async def main():\n"
        "    async with DataCiteClient(Settings().doi, publish=True) as client:\n"
        f"        await client.put_doi({DOI!r}, {{}})\n"
        "asyncio.run(main())\n"
    )

    subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **fake_datacite.env()}, check=True
    )

    assert fake_datacite.records[DOI].state == "draft"
