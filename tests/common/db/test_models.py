"""The schema enforces what the archive relies on, and each test starts from a clean slate."""

from __future__ import annotations

import pytest
from factories import create_asset, create_blob, create_dandiset, create_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dandelion_common.db.enums import VersionStatus
from dandelion_common.db.models import BrowserSession, Dandiset, User, UserIdentity, Version


@pytest.mark.parametrize("attempt", [1, 2])
async def test_each_test_runs_in_a_rolled_back_transaction(
    session: AsyncSession, attempt: int
) -> None:
    """The same committed username twice: the second run would collide if the first leaked."""
    session.add(User(username="isolation-probe"))
    await session.commit()
    count = await session.scalar(select(func.count()).where(User.username == "isolation-probe"))
    assert count == 1


async def test_dandiset_aggregate_has_a_pending_draft_and_an_owner(session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    dandiset, draft = await create_dandiset(session, owner=owner)
    await create_asset(session, version=draft, path="sub-01/sub-01_ecephys.nwb")
    loaded = await session.scalar(select(Version).where(Version.dandiset_id == dandiset.id))
    assert loaded is not None
    assert (loaded.version, loaded.status, loaded.asset_count) == (
        "draft",
        VersionStatus.PENDING,
        1,
    )


async def test_a_path_appears_once_per_version(session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    await create_asset(session, version=draft, path="sub-01/a.nwb")
    other = await create_blob(session, content=b"other bytes")
    with pytest.raises(IntegrityError, match="uq_version_assets_version_id_path"):
        await create_asset(session, version=draft, path="sub-01/a.nwb", blob=other)


async def test_version_ids_follow_dandis_format(session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    dandiset, _ = await create_dandiset(session, owner=owner)
    session.add(Version(dandiset_id=dandiset.id, version="1.0.0", name="x", metadata_={}))
    with pytest.raises(IntegrityError, match="ck_versions_version_format"):
        await session.flush()


async def test_dandiset_ids_have_six_digits(session: AsyncSession) -> None:
    session.add(Dandiset(id=1_000_000))
    with pytest.raises(IntegrityError, match="ck_dandisets_six_digit_id"):
        await session.flush()


async def test_statuses_are_stored_as_dandis_strings(session: AsyncSession) -> None:
    owner, _ = await create_user(session)
    _, draft = await create_dandiset(session, owner=owner)
    raw = await session.scalar(
        select(Version.__table__.c.status).where(Version.__table__.c.id == draft.id)
    )
    assert raw == "Pending"


async def test_an_identity_belongs_to_one_user_per_issuer_and_subject(
    session: AsyncSession,
) -> None:
    first, _ = await create_user(session)
    second, _ = await create_user(session)
    issuer = "https://sso.example.org"
    # The same subject at another issuer is another person; the same email links nothing.
    session.add(UserIdentity(user_id=first.id, issuer=issuer, subject="42", email="a@x.org"))
    session.add(UserIdentity(user_id=second.id, issuer=issuer + "/2", subject="42"))
    session.add(UserIdentity(user_id=second.id, issuer=issuer, subject="43", email="a@x.org"))
    await session.flush()
    session.add(UserIdentity(user_id=second.id, issuer=issuer, subject="42"))
    with pytest.raises(IntegrityError, match="uq_user_identities_issuer_subject"):
        await session.flush()


async def test_session_tokens_are_unique(session: AsyncSession) -> None:
    user, _ = await create_user(session)
    for _ in range(2):
        session.add(BrowserSession(user_id=user.id, token_digest="0" * 64, expires_at=func.now()))
    with pytest.raises(IntegrityError, match="uq_browser_sessions_token_digest"):
        await session.flush()
