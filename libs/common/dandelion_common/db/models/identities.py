"""Who a user is at a sign-in provider: one row per (issuer, subject), linked to one user.

Written only by the sign-in flow (the web service, issue 18). The identity is the provider's
`iss` and `sub` claims (for GitHub, its API's URL and the numeric user id), never an email:
emails change hands and providers differ on whether they verified them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dandelion_common.db.base import Base
from dandelion_common.db.models.users import User


class UserIdentity(Base):
    """A provider's account, signed in as `user`.

    An identity is never linked to an existing user because their emails match: a second
    provider (or a second account at one) showing the same email makes a new user, or is
    linked by that user once signed in. Linking by email would hand an account to whoever
    controls an address at any configured provider, verified or not.
    """

    __tablename__ = "user_identities"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # OIDC's `iss` and `sub`: `sub` is unique only within its issuer (255 is OIDC's limit).
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    # What the provider said at the last sign-in: a record, never a key to the account.
    email: Mapped[str] = mapped_column(String(254), server_default="")
    email_verified: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("issuer", "subject"),)
