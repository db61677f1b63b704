"""Prometheus registries shared by the HTTP apps (`web.metrics`) and workers (`jobs.metrics`).

Each app or worker keeps its metrics in a registry of its own rather than the library's global
one, so several apps in one process (tests) never collide and each `/metrics` shows only its
own series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, gc_collector, platform_collector, process_collector


def process_registry() -> CollectorRegistry:
    """A registry holding this process's own metrics (CPU, memory, open files, GC, Python)."""
    registry = CollectorRegistry()
    process_collector.ProcessCollector(registry=registry)
    platform_collector.PlatformCollector(registry=registry)
    gc_collector.GCCollector(registry=registry)
    return registry
