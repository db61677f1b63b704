"""Why a draft cannot be published: one class per illegal state, raised fresh each time.

DANDI answers each state with its own status and bare-string message. A class per state (not
a shared instance) matters: re-raising one instance grows its traceback by every refused
request's frames and keeps their sessions, users and drafts alive.
"""

from __future__ import annotations

from dandelion_common.errors import BadRequest, Conflict, Locked


class DraftAlreadyPublished(BadRequest):
    def __init__(self) -> None:
        super().__init__("There have been no changes to the draft version since the last publish.")


class DraftPublishing(Locked):
    def __init__(self) -> None:
        super().__init__("Dandiset is currently being published")


class DraftValidating(Conflict):
    def __init__(self) -> None:
        super().__init__("Dandiset is currently being validated")


class DraftValidationPending(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "Metadata validation is pending for this dandiset, please try again later."
        )


class DraftInvalid(BadRequest):
    """The draft's metadata, or one of its assets, is not Valid."""

    def __init__(self) -> None:
        super().__init__("Dandiset metadata or asset metadata is not valid")
