"""Each deploy/k8s overlay, rendered once per session by `kubectl kustomize`."""

from __future__ import annotations

import pytest
from deploy.manifests import OVERLAYS, Manifests


@pytest.fixture(scope="session", params=OVERLAYS)
def manifests(request: pytest.FixtureRequest) -> Manifests:
    overlay: str = request.param
    return Manifests.of(overlay)
