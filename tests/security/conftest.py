"""The API in process on the test's resources (real PostgreSQL, Redis and S3), one app for
each module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import serve
from fastapi import FastAPI

from dandelion_api.app import create_app
from dandelion_api.resources import ApiResources
from dandelion_common.settings import Settings


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    """One app per module: building one per test would be most of the runtime."""
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, resources: ApiResources) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app, resources) as client:
        yield client
