"""search service of the Dandelion archive."""
