"""Outgoing email: queued in the deciding transaction, sent over SMTP by a job after commit.

- `outbox.queue_mail` writes an `outgoing_mail` row (once per `dedupe_key`) and asks for the
  `send_mail` job, which is sent only when the caller's transaction commits.
- `smtp` builds the message and talks to the mail server (stdlib `smtplib` in a thread:
  one short conversation per message does not justify an async SMTP dependency), sorting
  its failures into `MailUnavailable` (try again) and `MailRejected` (the server said no).
- `job.send_mail`, run by the doi worker, claims the row, sends it and marks it sent.
"""

from dandelion_common.mail.outbox import queue_mail

__all__ = ["queue_mail"]
