"""Job queues over arq: typed contracts, the after-commit enqueue buffer, worker runner."""

from dandelion_common.jobs.buffer import enqueue_after_commit, flush_committed_jobs
from dandelion_common.jobs.contracts import JobContract, Queue
from dandelion_common.jobs.queue import JobQueue

__all__ = ["JobContract", "JobQueue", "Queue", "enqueue_after_commit", "flush_committed_jobs"]
