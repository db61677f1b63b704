"""Browser sessions: a signed-in browser's opaque token, stored only as its SHA-256.

Written only by `dandelion_common.browser_sessions` (start, touch, end). The token itself is
never stored, as API keys are not: a leaked table signs nobody in. A session ends at
`expires_at` (absolute, fixed at sign-in) or `auth.session_idle_minutes` after `last_seen`,
whichever is first; the idle limit is applied when read, so changing it applies at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dandelion_common.db.base import Base
from dandelion_common.db.models.users import User


class BrowserSession(Base):
    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Indexed: signing out everywhere (and deactivation, rejection) ends them by user.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Touched at most once a minute (see browser_sessions.LAST_SEEN_RESOLUTION).
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="raise")
