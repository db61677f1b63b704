"""api service of the Dandelion archive."""
