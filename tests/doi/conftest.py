"""Fixtures of the doi tests: the fake DataCite, and dandischema configured for payloads."""

from __future__ import annotations

import pytest
from doi.fake_datacite import fake_datacite, fake_datacite_server

from dandelion_common.schema import configure_dandischema
from dandelion_common.settings import Environment, InstanceSettings, Settings

__all__ = ["dandischema_instance", "fake_datacite", "fake_datacite_server"]


@pytest.fixture(scope="session")
def dandischema_instance() -> InstanceSettings:
    """The instance the test settings describe, configured in dandischema without starting the
    servers; the same configuration as the session's `settings` fixture, so either may run
    first."""
    instance = Settings(environment=Environment.TEST).instance
    configure_dandischema(instance)
    return instance
