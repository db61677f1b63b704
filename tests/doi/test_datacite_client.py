"""The DataCite client against the fake DataCite: records, states, and how failures sort into
"retry later" and "refused"."""

from __future__ import annotations

import email.utils
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from doi.fake_datacite import FakeDataCite
from pydantic import SecretStr

from dandelion_doi.datacite import DataCiteClient
from dandelion_doi.exceptions import DataCiteRejected, DataCiteUnavailable, DoiNotDraft

DOI = "10.80507/dandelion.000001"
URL = "https://dandelion.example.org/dandiset/000001"
METADATA = {
    "url": URL,
    "titles": [{"title": "Mouse V1"}],
    "creators": [{"name": "Owner, E", "nameType": "Personal"}],
    "publisher": {"name": "DANDELION Archive", "lang": "en"},
    "publicationYear": "2024",
    "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Neural Data"},
}
FINDABLE = {**METADATA, "event": "publish"}


def make_client(fake: FakeDataCite, *, publish: bool = True, **settings: Any) -> DataCiteClient:
    # Short timeouts: the hang tests wait for them.
    doi_settings = fake.doi_settings().model_copy(update=settings)
    return DataCiteClient(doi_settings, publish=publish, connect_timeout=0.5, read_timeout=0.5)


@pytest.fixture
async def client(fake_datacite: FakeDataCite) -> AsyncIterator[DataCiteClient]:
    async with make_client(fake_datacite) as client:
        yield client


async def test_put_creates_a_draft_then_makes_it_findable(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    draft = await client.put_doi(DOI, {"url": URL})
    findable = await client.put_doi(DOI, FINDABLE)

    assert (draft.doi, draft.state, draft.url) == (DOI, "draft", URL)
    assert findable.state == "findable"
    assert findable.attributes["titles"] == METADATA["titles"]
    assert fake_datacite.records[DOI].state == "findable"
    assert fake_datacite.records[DOI].attributes["publisher"] == METADATA["publisher"]


async def test_put_sends_a_json_api_document_naming_the_doi(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    await client.put_doi(DOI, {"url": URL})

    (request,) = fake_datacite.requests
    assert (request.method, request.path) == ("PUT", f"/dois/{DOI}")
    assert request.body == {"data": {"id": DOI, "type": "dois", "attributes": {"url": URL}}}


async def test_hide_makes_a_findable_doi_registered_and_keeps_its_metadata(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    await client.put_doi(DOI, FINDABLE)

    hidden = await client.hide(DOI)

    assert hidden is not None
    assert hidden.state == "registered"
    assert fake_datacite.records[DOI].attributes["url"] == URL
    assert fake_datacite.requests[-1].body["data"]["attributes"] == {"event": "hide"}


async def test_get_returns_the_record_or_none(client: DataCiteClient) -> None:
    await client.put_doi(DOI, {"url": URL})

    found = await client.get_doi(DOI)
    missing = await client.get_doi("10.80507/dandelion.999999")

    assert found is not None
    assert (found.doi, found.state, found.url) == (DOI, "draft", URL)
    assert missing is None


async def test_delete_draft_removes_a_draft_and_reports_an_absent_doi(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    await client.put_doi(DOI, {"url": URL})

    assert await client.delete_draft(DOI) is True
    assert await client.delete_draft(DOI) is False
    assert fake_datacite.records == {}


async def test_delete_draft_refuses_a_findable_doi(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    await client.put_doi(DOI, FINDABLE)

    with pytest.raises(DoiNotDraft) as refused:
        await client.delete_draft(DOI)

    assert refused.value.status == 405
    assert isinstance(refused.value, DataCiteRejected)
    assert fake_datacite.records[DOI].state == "findable"


async def test_invalid_metadata_is_rejected_with_datacites_errors(
    client: DataCiteClient,
) -> None:
    with pytest.raises(DataCiteRejected) as rejected:
        await client.put_doi(DOI, {"url": URL, "event": "publish"})

    error = rejected.value
    assert error.status == 422
    assert error.doi == DOI
    assert {e["source"] for e in error.errors} == {
        "titles",
        "creators",
        "publisher",
        "publicationYear",
        "types",
    }
    assert str(error).startswith(f"DataCite refused {DOI} (422): titles: ")


@pytest.mark.parametrize(
    ("settings", "status"),
    [({"password": SecretStr("wrong")}, 401), ({"prefix": "10.48324"}, 403)],
)
async def test_configuration_errors_are_rejections_not_outages(
    fake_datacite: FakeDataCite, settings: dict[str, Any], status: int
) -> None:
    doi = f"{settings.get('prefix', fake_datacite.prefix)}/dandelion.000001"

    async with make_client(fake_datacite, **settings) as client:
        with pytest.raises(DataCiteRejected) as rejected:
            await client.put_doi(doi, {"url": URL})

    assert rejected.value.status == status


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_429_and_5xx_are_outages(
    client: DataCiteClient, fake_datacite: FakeDataCite, status: int
) -> None:
    fake_datacite.fail_with(status)

    with pytest.raises(DataCiteUnavailable) as unavailable:
        await client.put_doi(DOI, {"url": URL})

    assert unavailable.value.status == status
    assert unavailable.value.retry_after is None


async def test_an_outage_carries_retry_after_in_seconds(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    fake_datacite.fail_with(429, retry_after=7)

    with pytest.raises(DataCiteUnavailable) as unavailable:
        await client.get_doi(DOI)

    assert unavailable.value.retry_after == 7


async def test_retry_after_may_be_an_http_date(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=60)
    fake_datacite.fail_with(503, retry_after=email.utils.format_datetime(when, usegmt=True))

    with pytest.raises(DataCiteUnavailable) as unavailable:
        await client.get_doi(DOI)

    assert unavailable.value.retry_after is not None
    assert 50 < unavailable.value.retry_after <= 60


async def test_a_hanging_datacite_is_an_outage_after_the_read_timeout(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    fake_datacite.hang(5)

    with pytest.raises(DataCiteUnavailable, match="timed out"):
        await client.put_doi(DOI, FINDABLE)

    fake_datacite.recover()
    assert (await client.put_doi(DOI, FINDABLE)).state == "findable"


async def test_an_unreachable_datacite_is_an_outage(fake_datacite: FakeDataCite) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"

    async with make_client(fake_datacite, api_url=url) as client:
        with pytest.raises(DataCiteUnavailable, match="unreachable"):
            await client.get_doi(DOI)


async def test_with_publishing_off_events_are_not_sent(fake_datacite: FakeDataCite) -> None:
    async with make_client(fake_datacite, publish=False) as client:
        record = await client.put_doi(DOI, FINDABLE)
        hidden = await client.hide(DOI)

    assert record.state == "draft"
    assert hidden is None
    (request,) = fake_datacite.requests  # hide sent nothing
    assert "event" not in request.body["data"]["attributes"]
    assert request.body["data"]["attributes"]["titles"] == METADATA["titles"]


async def test_attributes_naming_another_doi_are_refused_before_sending(
    client: DataCiteClient, fake_datacite: FakeDataCite
) -> None:
    with pytest.raises(ValueError, match="name DOI"):
        await client.put_doi(DOI, {"doi": "10.80507/dandelion.000002"})

    assert fake_datacite.requests == []


def test_a_client_without_credentials_is_refused(fake_datacite: FakeDataCite) -> None:
    settings = fake_datacite.doi_settings().model_copy(update={"password": None})

    with pytest.raises(ValueError, match="password"):
        DataCiteClient(settings, publish=True)
