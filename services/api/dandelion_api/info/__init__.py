"""Server information: what the dandi client reads to accept this instance."""
