"""The doi worker: keeps DataCite in step with the `dois` table, and sends queued email (the
worker that waits out outside services; `dandelion_common.mail`)."""

from __future__ import annotations

from arq.worker import Function

from dandelion_common.jobs.contracts import Queue
from dandelion_common.jobs.worker import CronFactory, ping_handler
from dandelion_common.mail.job import send_mail
from dandelion_doi.resources import DoiResources
from dandelion_doi.tasks import reconcile_cron, sync_doi

QUEUE = Queue.DOI
RESOURCES = DoiResources
FUNCTIONS: list[Function] = [ping_handler(QUEUE), sync_doi, send_mail]
CRON_JOBS: list[CronFactory] = [reconcile_cron]
