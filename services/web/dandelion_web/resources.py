"""What the web process holds: its settings and one keep-alive client of the APIs.

It has no database and no queue; `/readyz` checks that the API and the search API answer
(a page needs both, so without one the process is out of rotation, not serving errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dandelion_common.settings import Settings
from dandelion_common.web.resources import Probe
from dandelion_web.client import ArchiveClient


@dataclass
class WebResources:
    settings: Settings
    archive: ArchiveClient

    @classmethod
    async def open(cls, settings: Settings) -> WebResources:
        return cls(settings=settings, archive=ArchiveClient.open(settings.web))

    def readiness(self) -> Mapping[str, Probe]:
        web = self.settings.web
        return {
            "api": lambda: self._answers(f"{web.api_url}/healthz"),
            "search-api": lambda: self._answers(f"{web.search_url}/healthz"),
        }

    async def _answers(self, url: str) -> None:
        response = await self.archive.http.get(url)
        response.raise_for_status()

    async def close(self) -> None:
        await self.archive.close()


def web_resources(request: Request) -> WebResources:
    resources: WebResources = request.app.state.resources
    return resources


def archive_client(request: Request) -> ArchiveClient:
    return web_resources(request).archive


Archive = Annotated[ArchiveClient, Depends(archive_client)]
Resources = Annotated[WebResources, Depends(web_resources)]
