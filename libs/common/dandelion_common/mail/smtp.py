"""The mail server, behind one module: how to connect (from `MailSettings`), the message we
send, and which failures are worth another try.

`smtplib` blocks, so `deliver` runs it in a thread. Every socket operation is bounded by
`timeout_seconds`. TLS uses the system's trust store and checks the host name: `tls` is
implicit TLS from the first byte (port 465), `starttls` upgrades a plain connection and fails
if the server does not offer STARTTLS (never falling back to plain text), `none` is for a
relay on the same host or cluster.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from dandelion_common.settings import MailSettings, MailTls


class MailError(Exception):
    """Sending failed."""


class MailUnavailable(MailError):
    """The server could not be reached or asked us to come back (4xx): try again later."""


class MailRejected(MailError):
    """The server refused the message for good (5xx): another try would be refused too."""


@dataclass(frozen=True)
class Connection:
    """How to reach the mail server, fixed from settings (what the TLS tests check)."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    timeout: float
    username: str | None
    password: str | None


def connection_for(settings: MailSettings) -> Connection:
    if not settings.host:
        raise ValueError("mail has no host (DANDELION_MAIL__HOST)")
    password = settings.password.get_secret_value() if settings.password else None
    return Connection(
        host=settings.host,
        port=settings.port,
        implicit_tls=settings.tls is MailTls.TLS,
        starttls=settings.tls is MailTls.STARTTLS,
        timeout=settings.timeout_seconds,
        username=settings.username,
        password=password,
    )


def build_message(
    *, sender: str, recipient: str, subject: str, body: str, mail_id: int
) -> EmailMessage:
    """A plain-text message; its Message-ID is fixed by the row, so a message sent twice
    (see `job`) carries the same id, which lets mail systems show it once."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<outgoing-mail-{mail_id}@{domain}>"
    message.set_content(body)
    return message


def _open(connection: Connection) -> smtplib.SMTP:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if connection.implicit_tls:
        smtp = smtplib.SMTP_SSL(
            connection.host, connection.port, timeout=connection.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(connection.host, connection.port, timeout=connection.timeout)
    try:
        if connection.starttls:
            smtp.starttls(context=context)
        if connection.username and connection.password:
            smtp.login(connection.username, connection.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send(connection: Connection, message: EmailMessage) -> None:
    try:
        smtp = _open(connection)
        try:
            refused = smtp.send_message(message)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()  # the message is sent (or not) already: QUIT is a courtesy
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _by_code(min(codes, default=550), f"recipient refused: {exc.recipients}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, TLS, STARTTLS absent
        raise MailUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if refused:  # only with several recipients; we send to one
        raise MailRejected(f"recipients refused: {refused}")


def _by_code(code: int, detail: str) -> MailError:
    # 4xx is transient by the SMTP rules, and so is a failed login (535: fix the credentials
    # and the queued mail still goes) or a connection lost before any reply (code -1);
    # other 5xx refuse this message for good.
    if code < 500 or code in (530, 534, 535):
        return MailUnavailable(detail)
    return MailRejected(detail)


async def deliver(connection: Connection, message: EmailMessage) -> None:
    """Hand `message` to the server: returns once it accepted it."""
    await asyncio.to_thread(_send, connection, message)
