"""Fixtures of the mail tests: a real SMTP server on a free local port, and the settings that
point at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from common.mail.smtp_server import SmtpServer, free_port

from dandelion_common.settings import MailSettings, MailTls, Settings


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    mail = MailSettings(
        host="127.0.0.1",
        port=smtp_server.port,
        tls=MailTls.NONE,
        sender="Dandelion <noreply@dandelion.test>",
        timeout_seconds=5.0,
    )
    return settings.model_copy(update={"mail": mail})
