"""The local mail catcher of the embedded stack: an SMTP server that writes every message it
receives as an .eml file, so that nothing leaves the machine and the mails can be read.

    python -m eaflow.notifications.catcher --dir var/mails --host 127.0.0.1 --port 1025

File names sort in reception order: ``20261122T153000.123456-0001.eml`` (UTC time, then a counter).
A file appears whole (written under a temporary name, then renamed). Dev only: the files hold
personal data (R22) and are never cleaned up by eaflow.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Controller(Controller):
    """A Controller that accepts port 0: the port the OS chose is read before the self-test."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _EmlWriter:
    def __init__(self, directory: Path):
        self.directory = directory
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _file_name(self) -> str:
        with self._lock:
            number = next(self._counter)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%f")
        return f"{stamp}-{number:04d}.eml"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        # The envelope, which the headers may not show (Bcc), as the first lines of the file.
        trace = (f"X-Envelope-From: {envelope.mail_from}\r\n"
                 f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode("utf-8")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = self._file_name()
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(trace + content)
        os.replace(temporary, self.directory / name)
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on host:port writing each message under `directory`. Port 0: a free port,
    readable from `.port` after `start()`."""

    def __init__(self, directory: str | Path, host: str = "127.0.0.1", port: int = 1025):
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self._controller: _Controller | None = None

    def start(self) -> "MailCatcher":
        if self._controller is not None:
            raise RuntimeError("mail catcher already started")
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = _Controller(_EmlWriter(self.directory), hostname=self.host, port=self.port,
                                 data_size_limit=20 * 1024 * 1024)
        controller.start()
        self._controller = controller
        self.port = controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "MailCatcher":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError):
        return part.get_payload(decode=True).decode("utf-8", errors="replace")


def read_mail(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    date_header = message.get("Date")
    try:
        sent = parsedate_to_datetime(str(date_header)).isoformat() if date_header else None
    except (TypeError, ValueError):
        sent = None
    return {
        "file": str(path),
        "date": sent,
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "envelope_to": [a.strip() for a in str(message.get("X-Envelope-To", "")).split(",") if a.strip()],
        "subject": str(message.get("Subject", "")),
        "kind": str(message.get("X-Eaflow-Kind", "")) or None,
        "key": str(message.get("X-Eaflow-Key", "")) or None,
        "message_id": str(message.get("Message-ID", "")) or None,
        "body": _body_text(message),
    }


def read_mails(directory: str | Path) -> list[dict[str, Any]]:
    """Every caught mail of `directory`, parsed, oldest first (newest last)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return [read_mail(path) for path in sorted(folder.glob("*.eml"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eaflow.notifications.catcher",
                                     description="Local SMTP server writing every mail as an .eml file.")
    parser.add_argument("--dir", required=True, help="directory of the .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025, help="0 picks a free port")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    catcher = MailCatcher(args.dir, host=args.host, port=args.port).start()
    print(f"mail catcher listening on {catcher.host}:{catcher.port}, writing to {catcher.directory}",
          flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        catcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
