"""Shared library of the Dandelion archive: settings, database, jobs, storage, errors."""

__version__ = "0.1.0"
