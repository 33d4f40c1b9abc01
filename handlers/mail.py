"""Outgoing email over SMTP (`EmailSettings`): the stack's local sink in dev and tests
(`switchyard/simulators/smtp.py`), a real server when one is configured."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from handlers.settings import EmailSettings

SMTP_TIMEOUT = 10.0


def compose(settings: EmailSettings, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    """A plain-text message. A Message-ID of the caller's choosing (journaled) makes a
    resend after a lost acknowledgement recognisable as the same message."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


def deliver(settings: EmailSettings, message: EmailMessage) -> None:
    """Hands the message to the SMTP server; raises if it is not accepted."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
        smtp.send_message(message)


async def send(settings: EmailSettings, message: EmailMessage) -> None:
    # smtplib blocks: off the event loop, so other invocations keep running meanwhile.
    await asyncio.to_thread(deliver, settings, message)
