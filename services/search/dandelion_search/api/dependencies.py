"""The search API's request dependencies: the engine and the caller's visibility."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from dandelion_common.web.auth import MaybeUser
from dandelion_search.api.resources import ResourcesDep
from dandelion_search.backends import SearchBackend
from dandelion_search.schemas import Visibility
from dandelion_search.visibility import visibility_for


async def get_backend(resources: ResourcesDep) -> SearchBackend:
    """The engine built with the app's resources at startup (closed with them)."""
    return resources.search


async def get_visibility(user: MaybeUser, resources: ResourcesDep) -> Visibility:
    # A short session of its own, so the connection is not held during the search itself.
    async with resources.db.session() as session:
        return await visibility_for(session, user)


BackendDep = Annotated[SearchBackend, Depends(get_backend)]
VisibilityDep = Annotated[Visibility, Depends(get_visibility)]
