"""The search worker: drains the search outbox into the index (see the search issue)."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import ping_handler

QUEUE = Queue.SEARCH
FUNCTIONS: list[Function] = [ping_handler(QUEUE)]
