"""The stack's SMTP sink: mail sent over real SMTP lands as one readable message per send."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from handlers.settings import ExampleStackSettings as Settings
from switchyard.simulators.smtp import received
from switchyard.stack.stack import Stack


def test_mail_sent_over_smtp_is_stored_once_and_readable(stack: Stack, settings: Settings, unique: str) -> None:
    message = EmailMessage()
    message["From"] = settings.email.sender
    message["To"] = f"{unique}@example.com"
    message["Subject"] = f"hello {unique}"
    message.set_content("the body, with a URL https://example.com/x")
    with smtplib.SMTP(settings.email.smtp_host, settings.email.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)
    ours = [m for m in received(stack.home / "mail") if m["To"] == f"{unique}@example.com"]
    assert len(ours) == 1
    assert ours[0]["Subject"] == f"hello {unique}"
    body = ours[0].get_body()
    assert body is not None
    assert "https://example.com/x" in body.get_content()
