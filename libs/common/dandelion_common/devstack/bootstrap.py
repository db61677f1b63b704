"""First-run data of the local stack: the bucket and an admin account with an API key."""

from __future__ import annotations

from pathlib import Path

from dandelion_common.accounts import ensure_user, set_api_key
from dandelion_common.auth import generate_api_key
from dandelion_common.db.session import Database
from dandelion_common.settings import Settings
from dandelion_common.storage import S3Storage

ADMIN_USERNAME = "admin"


async def ensure_bucket(settings: Settings) -> None:
    storage = await S3Storage.connect(settings.s3)
    try:
        await storage.ensure_bucket()
    finally:
        await storage.close()


def admin_key(key_file: Path) -> str:
    """The local admin's API key, kept in `key_file` (mode 0600) so it survives restarts."""
    key = key_file.read_text().strip() if key_file.exists() else generate_api_key()
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


async def ensure_admin(settings: Settings, key: str) -> None:
    """An approved admin user holding `key` (idempotent)."""
    db = Database.connect(settings.postgres, application_name="dandelion-devstack")
    try:
        async with db.session() as session:
            user, _ = await ensure_user(
                session, username=ADMIN_USERNAME, email="admin@localhost", first_name="Local",
                last_name="Admin", approve=True, admin=True,
            )  # fmt: skip
            await set_api_key(session, user.id, key)
            await session.commit()
    finally:
        await db.dispose()
