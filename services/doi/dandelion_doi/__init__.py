"""doi service of the Dandelion archive."""
