"""A local SMTP sink for the dev stack and tests: mail really goes out over SMTP and lands
here, in a Maildir at `<stack home>/mail/` (aiosmtpd's own ``Mailbox`` handler: each message
is written under `tmp/` and moved into `new/`, so a reader never sees half of one), instead
of in someone's inbox.

With `SWITCHYARD_EMAIL__SMTP_HOST` pointing at a real server (not loopback) the stack
starts no sink and the handlers send through that server unchanged.

Run it as `python -m switchyard.simulators.smtp --bind host:port --dir DIR`.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import logging
import mailbox
import re
import signal
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from switchyard.core.components import EmailSettings, SimulatorSettings
from switchyard.core.settings import LOOPBACK, load_or_exit, split_host_port

log = logging.getLogger(__name__)
# A Maildir message's name: <seconds>.M<microseconds>P<pid>Q<count>.<host> (Python's mailbox).
_DELIVERY = re.compile(r"(\d+)\.M(\d+)P\d+Q(\d+)")


def is_local(settings: EmailSettings) -> bool:
    """Only a loopback SMTP host means the local sink; anything else is a real server."""
    return settings.smtp_host in LOOPBACK


def received(mail_dir: Path) -> list[EmailMessage]:
    """The messages the sink has stored in its Maildir, oldest first."""
    if not (mail_dir / "new").is_dir():
        return []
    box = mailbox.Maildir(mail_dir, factory=None, create=False)
    messages = []
    for key in sorted(box.keys(), key=_delivered_at):
        message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def _delivered_at(key: str) -> tuple[int, int, int]:
    """When (and in what order) a message came in, from its Maildir name: the seconds and
    microseconds are not zero-padded, so the names do not sort by time as text."""
    found = _DELIVERY.match(key)
    return (int(found[1]), int(found[2]), int(found[3])) if found else (0, 0, 0)


def serve(host: str, port: int, mail_dir: Path) -> None:
    """Serves until SIGTERM; messages already stored are whole (moved into place by the Maildir)."""
    for part in ("tmp", "new", "cur"):  # Maildir makes them only where the directory is new
        (mail_dir / part).mkdir(parents=True, exist_ok=True)
    controller = Controller(Mailbox(mail_dir), hostname=host, port=port)
    controller.start()  # its own thread and event loop
    log.info("SMTP sink on %s:%d, mail to %s", host, port, mail_dir)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        controller.stop()


def main(argv: list[str] | None = None) -> None:
    settings = load_or_exit(SimulatorSettings).email
    parser = argparse.ArgumentParser(description="a local SMTP sink storing each message in a Maildir")
    parser.add_argument("--bind", default=f"{settings.smtp_host}:{settings.smtp_port}")
    parser.add_argument("--dir", required=True, help="the Maildir each received message is stored in")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    host, port = split_host_port(args.bind)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # for sigwait
    serve(host, port, Path(args.dir))


if __name__ == "__main__":
    main()
