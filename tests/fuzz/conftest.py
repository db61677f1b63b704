"""The live stack the fuzzer talks to, started once for the module that needs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz.live import LiveStack, live_stack

from dandelion_common.devstack.ephemeral import ServerUrls


@pytest.fixture(scope="module")
def live(servers: ServerUrls) -> Iterator[LiveStack]:
    with live_stack(servers) as stack:
        yield stack
