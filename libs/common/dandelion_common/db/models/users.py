"""Accounts: users and their API keys (written by the api, and by the web service's sign-up)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Identity, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dandelion_common.db.base import Base, Timestamped, string_enum
from dandelion_common.db.enums import UserStatus


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254), server_default="")
    first_name: Mapped[str] = mapped_column(String(150), server_default="")
    last_name: Mapped[str] = mapped_column(String(150), server_default="")
    status: Mapped[UserStatus] = mapped_column(
        string_enum(UserStatus, "user_status"), server_default=UserStatus.INCOMPLETE.value
    )
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default="false")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class ApiToken(Base):
    """One API key per user, as DANDI; only a SHA-256 of the key is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(lazy="raise")
