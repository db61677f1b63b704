"""SQLAlchemy models: the archive's single source of truth, one module per aggregate.

A module holds the rows that change together and have one writer (DESIGN.md, Ownership):

- `users`: accounts and their API keys (the api, and the web service's sign-up).
- `identities`: who a user is at a sign-in provider, (issuer, subject) unique (the web
  service's sign-in).
- `browser_sessions`: signed-in browsers, by their token's digest (`dandelion_common.
  browser_sessions` alone).
- `dandisets`: a dandiset with its versions, owners and stars (the api edits the draft; the
  ingest worker writes published versions and validation status).
- `blobs`: uploads in progress, the blobs they become, and what ingest read from each blob;
  a blob outlives and is shared by the assets that name it.
- `assets`: asset rows, which version holds which, and the folder tree kept beside them; all
  three are written in the one transaction of every asset change.
- `zarr`: Zarr archives, their immutable snapshots and the files each snapshot froze.
- `audit`: the audit trail, kept after the dandiset it names is gone.
- `tombstones`: what a deleted dandiset leaves for its visitors (its id, name and deletion
  time), written by the api's deletion alone.
- `search`: the outbox every writer fills, and the tables the search worker alone writes.
- `dois`: the DOIs we own at DataCite, driven by the doi worker.
- `mail`: outgoing email, queued by `dandelion_common.mail` and sent by the doi worker.

Relationships are ``lazy="raise"``: every query states what it loads, so an async session
never issues a hidden query. Relationships name their target class by annotation, resolved
when the mappers configure; importing this package imports every module, so all are known.
Import models from here (`from dandelion_common.db.models import Asset`), not from the modules.
"""

from dandelion_common.db.models.assets import Asset, AssetPath, VersionAsset
from dandelion_common.db.models.audit import AuditRecord
from dandelion_common.db.models.blobs import AssetBlob, BlobExtract, Upload
from dandelion_common.db.models.browser_sessions import BrowserSession
from dandelion_common.db.models.dandisets import Dandiset, DandisetOwner, DandisetStar, Version
from dandelion_common.db.models.dois import Doi
from dandelion_common.db.models.identities import UserIdentity
from dandelion_common.db.models.mail import OutgoingMail
from dandelion_common.db.models.search import (
    SearchAssetDocument,
    SearchDandisetDocument,
    SearchIndexedDandiset,
    SearchOutbox,
    SearchRebuild,
    SearchRebuildTouched,
)
from dandelion_common.db.models.tombstones import DandisetTombstone
from dandelion_common.db.models.users import ApiToken, User
from dandelion_common.db.models.zarr import ZarrArchive, ZarrSnapshot, ZarrSnapshotEntry

__all__ = [
    "ApiToken",
    "Asset",
    "AssetBlob",
    "AssetPath",
    "AuditRecord",
    "BlobExtract",
    "BrowserSession",
    "Dandiset",
    "DandisetOwner",
    "DandisetStar",
    "DandisetTombstone",
    "Doi",
    "OutgoingMail",
    "SearchAssetDocument",
    "SearchDandisetDocument",
    "SearchIndexedDandiset",
    "SearchOutbox",
    "SearchRebuild",
    "SearchRebuildTouched",
    "Upload",
    "User",
    "UserIdentity",
    "Version",
    "VersionAsset",
    "ZarrArchive",
    "ZarrSnapshot",
    "ZarrSnapshotEntry",
]
