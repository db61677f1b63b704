"""API keys: 40 hex characters like DANDI's, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets


def generate_api_key() -> str:
    return secrets.token_hex(20)


def hash_api_key(key: str) -> str:
    """Keys are 160 random bits, so an unsalted fast hash is enough to make a leak useless."""
    return hashlib.sha256(key.encode()).hexdigest()
