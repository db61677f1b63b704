"""Archive-wide reads: statistics, metadata JSON Schemas, the asset audit feed, blob lookup."""
