"""DANDI's identifier patterns, as its URLs and the dandi client spell them: one place for
the API's path parameters and the web's pages, which check an id before it becomes part of
an API path (a malformed one is a 404 there, never a different address)."""

from __future__ import annotations

import re

DANDISET = re.compile(r"^\d{6}$")
VERSION = re.compile(r"^(0\.\d{6}\.\d{4}|draft)$")
ASSET = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
