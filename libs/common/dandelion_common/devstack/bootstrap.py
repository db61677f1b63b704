"""First-run data of the local stack: the bucket and an admin account with an API key."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dandelion_common.auth import generate_api_key, hash_api_key
from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import ApiToken, User
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
            user = await session.scalar(select(User).where(User.username == ADMIN_USERNAME))
            if user is None:
                user = User(
                    username=ADMIN_USERNAME,
                    email="admin@localhost",
                    first_name="Local",
                    last_name="Admin",
                    status=UserStatus.APPROVED,
                    is_admin=True,
                )
                session.add(user)
                await session.flush()
            token = await session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
            if token is None:
                session.add(ApiToken(user_id=user.id, key_hash=hash_api_key(key)))
            else:
                token.key_hash = hash_api_key(key)
            await session.commit()
    finally:
        await db.dispose()
