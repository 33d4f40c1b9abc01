"""The SMTP sink's storage: aiosmtpd's Maildir handler, read back oldest first."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import Envelope, Session

from handlers.settings import EmailSettings
from switchyard.simulators.smtp import is_local, received


def mail(subject: str) -> bytes:
    return f"From: a@x\r\nTo: b@x\r\nSubject: {subject}\r\n\r\nbody {subject}\r\n".encode()


async def deliver(handler: Mailbox, subjects: list[str]) -> None:
    """As aiosmtpd's server hands each message to its handler."""
    session = Session(asyncio.get_running_loop())
    session.peer = "127.0.0.1"
    for subject in subjects:
        envelope = Envelope()
        envelope.content, envelope.mail_from, envelope.rcpt_tos = mail(subject), "a@x", ["b@x"]
        assert (await handler.handle_DATA(cast(Any, None), session, envelope)).startswith("250")


def test_each_message_is_stored_whole_and_read_back_in_order(tmp_path: Path) -> None:
    # More than ten in one second: Maildir names do not sort by time as text.
    subjects = [f"message {n}" for n in range(12)]
    asyncio.run(deliver(Mailbox(tmp_path / "mail"), subjects))
    messages = received(tmp_path / "mail")
    assert [m["Subject"] for m in messages] == subjects
    body = messages[0].get_body()
    assert body is not None
    assert body.get_content().strip() == "body message 0"
    assert not list((tmp_path / "mail" / "tmp").iterdir())  # nothing half written


def test_no_mail_dir_means_no_mail(tmp_path: Path) -> None:
    assert received(tmp_path / "missing") == []
    assert received(tmp_path) == []  # a directory that is no Maildir (yet)


def test_only_loopback_hosts_get_the_local_sink() -> None:
    assert is_local(EmailSettings(smtp_host="127.0.0.1"))
    assert is_local(EmailSettings(smtp_host="localhost"))
    assert not is_local(EmailSettings(smtp_host="smtp.example.com"))
