"""Fixtures of the doi tests: dandischema configured for payloads (the fake DataCite's
fixtures are in tests/conftest.py, for every test directory)."""

from __future__ import annotations

import pytest

from dandelion_common.schema import configure_dandischema
from dandelion_common.settings import Environment, InstanceSettings, Settings

__all__ = ["dandischema_instance"]


@pytest.fixture(scope="session")
def dandischema_instance() -> InstanceSettings:
    """The instance the test settings describe, configured in dandischema without starting the
    servers; the same configuration as the session's `settings` fixture, so either may run
    first."""
    instance = Settings(environment=Environment.TEST).instance
    configure_dandischema(instance)
    return instance
