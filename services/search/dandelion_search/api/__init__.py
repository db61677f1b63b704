"""The search API's own endpoints (beyond DANDI): asset-level and dandiset-level search."""
