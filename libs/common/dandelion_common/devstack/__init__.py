"""The local stack: real PostgreSQL, Redis and S3 servers from PyPI wheels, run as child
processes, plus the Dandelion services (`make run`, `dandelion up`, the test harness)."""
