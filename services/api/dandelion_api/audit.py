"""Audit records (shared with the workers, which record publishes and unembargoes)."""

from dandelion_common.audit import record

__all__ = ["record"]
