"""Dandelion's web front door: server-rendered pages over the archive's own APIs."""
