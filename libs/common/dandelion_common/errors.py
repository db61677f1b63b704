"""The one error hierarchy of Dandelion, rendered in DANDI's error shapes by one handler.

DANDI (Django REST framework) answers service errors with a bare JSON string, field errors
with a dict of lists, and auth/404 errors with ``{"detail": ...}``; ``body()`` gives each
error its shape so callers never build responses by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class ArchiveError(Exception):
    """A failure the client caused or must know about, with its HTTP status."""

    status_code: ClassVar[int] = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def body(self) -> Any:
        return self.message


class DetailError(ArchiveError):
    """Errors DRF renders as ``{"detail": message}``."""

    def body(self) -> Any:
        return {"detail": self.message}


class BadRequest(ArchiveError):
    status_code = 400


class FieldErrors(ArchiveError):
    """Per-field validation errors, rendered as DRF does: ``{"field": ["message", ...]}``."""

    status_code = 400

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors

    def body(self) -> Any:
        return self.errors


class NotAuthenticated(DetailError):
    status_code = 401

    def __init__(self, message: str = "Authentication credentials were not provided.") -> None:
        # DANDI's first auth class is OAuth2, which is why a 401 carries this challenge.
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="api"'})


class InvalidToken(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__("Invalid token.")


class PermissionDenied(DetailError):
    status_code = 403

    def __init__(self, message: str = "You do not have permission to perform this action.") -> None:
        super().__init__(message)


class NotFound(DetailError):
    status_code = 404

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class MethodNotAllowed(DetailError):
    status_code = 405


class Conflict(ArchiveError):
    status_code = 409


class Locked(ArchiveError):
    status_code = 423


class ServiceUnavailable(DetailError):
    """A backing service is down; the client should retry (the dandi client honours Retry-After)."""

    status_code = 503

    def __init__(self, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})


class StorageError(Exception):
    """S3 failed in a way that is not the client's fault."""


class StorageUnavailable(StorageError):
    """S3 could not be reached or answered 5xx; callers may retry."""


# Connection failures and timeouts of PostgreSQL (SQLAlchemy wraps asyncpg's) and Redis: the
# API answers 503, a job is retried later.
BACKEND_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,  # every connection busy past the pool timeout: overload, not a bug
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (*BACKEND_UNAVAILABLE, StorageUnavailable)
