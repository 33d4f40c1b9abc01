"""A local SMTP sink for the dev stack and tests: mail really goes out over SMTP and lands
here, one `.eml` file per message in `<stack home>/mail/`, instead of in someone's inbox.

With `SWITCHYARD_EMAIL__SMTP_HOST` pointing at a real server (not loopback) the stack
starts no sink and the handlers send through that server unchanged.

Run it as `python -m switchyard.simulators.smtp --bind host:port --dir DIR`.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import logging
import os
import signal
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from handlers.settings import EmailSettings, HandlerSettings

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_local(settings: EmailSettings) -> bool:
    """Only a loopback SMTP host means the local sink; anything else is a real server."""
    return settings.smtp_host in LOOPBACK


class MailDirHandler:
    """aiosmtpd handler: each accepted message becomes one file, written atomically
    (a reader never sees half a message)."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self.count}.eml"
        tmp = self.mail_dir / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.mail_dir / name)
        log.info("mail from %s to %s stored as %s", envelope.mail_from, ", ".join(envelope.rcpt_tos), name)
        return "250 Message accepted for delivery"


def received(mail_dir: Path) -> list[EmailMessage]:
    """The messages the sink has stored, oldest first."""
    if not mail_dir.exists():
        return []
    messages = []
    for path in sorted(mail_dir.glob("*.eml"), key=lambda p: int(p.name.split("-", 1)[0])):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages




def serve(host: str, port: int, mail_dir: Path) -> None:
    """Serves until SIGTERM; messages already stored are whole (files are renamed into place)."""
    mail_dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(MailDirHandler(mail_dir), hostname=host, port=port)
    controller.start()  # its own thread and event loop
    log.info("SMTP sink on %s:%d, mail to %s", host, port, mail_dir)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


def main(argv: list[str] | None = None) -> None:
    settings = HandlerSettings().email
    parser = argparse.ArgumentParser(description="a local SMTP sink writing each message to a file")
    parser.add_argument("--bind", default=f"{settings.smtp_host}:{settings.smtp_port}")
    parser.add_argument("--dir", required=True, help="where each received message is stored")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    host, _, port = args.bind.rpartition(":")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # for sigwait
    serve(host, int(port), Path(args.dir))


if __name__ == "__main__":
    main()
