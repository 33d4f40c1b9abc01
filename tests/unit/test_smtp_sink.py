"""The SMTP sink's storage: atomic files, read back oldest first."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from handlers.settings import EmailSettings
from switchyard.simulators.smtp import MailDirHandler, is_local, received


def mail(subject: str) -> bytes:
    return f"From: a@x\r\nTo: b@x\r\nSubject: {subject}\r\n\r\nbody {subject}\r\n".encode()


def test_each_message_is_one_file_read_back_in_order(tmp_path: Path) -> None:
    handler = MailDirHandler(tmp_path)
    for subject in ("first", "second", "third"):
        envelope = SimpleNamespace(original_content=mail(subject), content=None, mail_from="a@x", rcpt_tos=["b@x"])
        assert asyncio.run(handler.handle_DATA(None, None, envelope)).startswith("250")
    assert [m["Subject"] for m in received(tmp_path)] == ["first", "second", "third"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_mail_dir_means_no_mail(tmp_path: Path) -> None:
    assert received(tmp_path / "missing") == []


def test_only_loopback_hosts_get_the_local_sink() -> None:
    assert is_local(EmailSettings(smtp_host="127.0.0.1"))
    assert is_local(EmailSettings(smtp_host="localhost"))
    assert not is_local(EmailSettings(smtp_host="smtp.example.com"))
