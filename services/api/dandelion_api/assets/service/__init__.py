"""Asset use cases, split by kind: `reads` (lists, metadata, downloads) and `edits` (create,
replace, remove, each keeping the draft's folder tree and counters in step)."""
