"""The search worker: drains the search outbox into the index (see `indexer`)."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import CronFactory, ping_handler
from dandelion_search import tasks
from dandelion_search.resources import SearchWorkerResources

QUEUE = Queue.SEARCH
RESOURCES = SearchWorkerResources
FUNCTIONS: list[Function] = [ping_handler(QUEUE), *tasks.FUNCTIONS]
CRON_JOBS: list[CronFactory] = [tasks.drain_cron]
