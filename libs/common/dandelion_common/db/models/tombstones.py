"""What is left of a deleted dandiset for its visitors: which dandiset it was and when it went.

Written only by the api's dandiset deletion (`dandelion_api.dandisets.tombstone.record`), in
the transaction that deletes the dandiset, so that the web can answer 410 with a page naming
what was there instead of a 404. Like the audit records it outlives its dandiset, hence no
foreign key. An embargoed dandiset's name was never public: it is kept (an admin may need it)
but `embargoed` tells every reader not to show it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from dandelion_common.db.base import Base


class DandisetTombstone(Base):
    """A deleted dandiset: one row per identifier, rewritten should the id be deleted again."""

    __tablename__ = "dandiset_tombstones"

    # Not an identity: the deleted dandiset's own id.
    dandiset_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The draft's name when it was deleted (a dandiset that could be deleted was never
    # published, so the draft is all it had).
    name: Mapped[str] = mapped_column(String(300))
    embargoed: Mapped[bool] = mapped_column(Boolean)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
