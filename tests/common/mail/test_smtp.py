"""How settings become a connection (TLS modes, credentials), and that a TLS mode the server
cannot honour fails (to be retried) rather than falling back to plain text."""

from __future__ import annotations

import pytest
from common.mail.smtp_server import SmtpServer
from pydantic import SecretStr

from dandelion_common.mail.smtp import (
    MailUnavailable,
    build_message,
    connection_for,
    deliver,
)
from dandelion_common.settings import MailSettings, MailTls, Settings


@pytest.mark.parametrize(
    ("tls", "implicit_tls", "starttls"),
    [(MailTls.NONE, False, False), (MailTls.STARTTLS, False, True), (MailTls.TLS, True, False)],
)
def test_the_tls_setting_picks_the_connection(
    tls: MailTls, implicit_tls: bool, starttls: bool
) -> None:
    settings = MailSettings(host="smtp.example.org", port=465, tls=tls, timeout_seconds=7)

    connection = connection_for(settings)

    assert (connection.host, connection.port, connection.timeout) == ("smtp.example.org", 465, 7)
    assert (connection.implicit_tls, connection.starttls) == (implicit_tls, starttls)


def test_credentials_and_defaults_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DANDELION_MAIL__HOST", "smtp.example.org")
    monkeypatch.setenv("DANDELION_MAIL__USERNAME", "archive")
    monkeypatch.setenv("DANDELION_MAIL__PASSWORD", "s3cret")

    mail = Settings().mail
    connection = connection_for(mail)

    assert mail.sending
    assert (mail.port, mail.tls) == (587, MailTls.STARTTLS)
    assert (connection.username, connection.password) == ("archive", "s3cret")
    assert isinstance(mail.password, SecretStr)


def test_mail_is_off_without_a_host_or_when_disabled() -> None:
    assert not MailSettings().sending
    assert not MailSettings(host="smtp.example.org", enabled=False).sending
    with pytest.raises(ValueError, match="DANDELION_MAIL__HOST"):
        connection_for(MailSettings())


@pytest.mark.parametrize("tls", [MailTls.STARTTLS, MailTls.TLS])
async def test_tls_the_server_does_not_speak_is_retried_never_sent_plain(
    tls: MailTls, smtp_server: SmtpServer
) -> None:
    # The test server speaks plain SMTP and offers no STARTTLS.
    settings = MailSettings(host="127.0.0.1", port=smtp_server.port, tls=tls, timeout_seconds=5)
    message = build_message(
        sender="Dandelion <noreply@dandelion.test>",
        recipient="ada@example.org",
        subject="Hello",
        body="secret-ish",
        mail_id=1,
    )

    with pytest.raises(MailUnavailable):
        await deliver(connection_for(settings), message)
    assert smtp_server.inbox.messages == []
