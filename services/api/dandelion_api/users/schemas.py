"""DANDI's user objects."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from dandelion_common.db.enums import UserStatus
from dandelion_common.db.models import User


class UserDetail(BaseModel):
    """The 4 fields DANDI's `users/me` and `users/search` return for a user."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "username": "alovelace",
                "name": "Ada Lovelace",
                "admin": False,
                "status": "APPROVED",
            }
        }
    )

    username: str
    name: str
    admin: bool
    status: UserStatus

    @classmethod
    def of(cls, user: User) -> UserDetail:
        return cls(
            username=user.username,
            name=f"{user.first_name} {user.last_name}".strip(),
            admin=user.is_admin,
            status=user.status,
        )
