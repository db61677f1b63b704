"""Object keys: blobs spread over prefixes, embargoed blobs under their own."""

from __future__ import annotations

import uuid

from dandelion_common.storage import blob_key


def test_blob_keys_spread_over_prefixes() -> None:
    blob_id = uuid.UUID("0123abcd-0000-4000-8000-000000000000")
    assert blob_key(blob_id) == "blobs/012/3ab/0123abcd-0000-4000-8000-000000000000"


def test_embargoed_blobs_have_their_own_prefix() -> None:
    blob_id = uuid.UUID("0123abcd-0000-4000-8000-000000000000")
    key = blob_key(blob_id, embargoed=True)
    assert key == "embargoed/blobs/012/3ab/0123abcd-0000-4000-8000-000000000000"
