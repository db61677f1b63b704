"""ingest service of the Dandelion archive."""
