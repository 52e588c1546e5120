"""The mails the SMTP server accepted, written down the instant it answered (issue 19).

The outbox marks a mail "sent" in the database once the SMTP server accepted it (outbox.py). Between
the two, a crash makes the retry send the mail again. Under load that window was wide: the mark waits
for a thread of the pool and then for SQLite's write lock, up to seconds (measured: duplicates whose
first copy was accepted two seconds before the kill). So the key of an accepted mail is first appended
to a journal file, one line, in one `write` of a file opened with O_APPEND: microseconds, and what the
kernel has received survives the process being killed. The line is the mail's Message-ID, a digest of
its key: a key names its recipient's address, which stays in the database (R22). The database mark follows as before; a retry
that finds its row still "pending" looks in the journals, and a key found there is marked sent
without sending again.

One journal per process (`mail-sent-<host>-<pid>.log` in the data directory), read by every process of
the machine. A process empties its own journal once every mail in it is marked in the database; a
worker starting takes the journals of processes of its host that are gone into the database, then
deletes them. Workers on other machines (production) do not see each other's journals: there the
window is the database mark itself, one short transaction on PostgreSQL.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Callable, Iterable

from eaflow.embedded import pid_alive

log = logging.getLogger("eaflow.outbox")
PREFIX = "mail-sent-"
SUFFIX = ".log"
EMPTY_WHEN_LARGER_THAN = 64 * 1024  # bytes: emptied once every mail in it is marked in the database


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


class SentJournal:
    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / f"{PREFIX}{_host()}-{os.getpid()}{SUFFIX}"
        self._fd: int | None = None
        self._unmarked = 0  # mails written here whose database mark has not committed yet
        self._lock = threading.Lock()

    def _open(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def accepted(self, message_id: str) -> None:
        """The SMTP server accepted the mail of `message_id`: one line, at once. A directory that cannot be
        written (a read-only container) leaves only the database mark, as before the journal."""
        with self._lock:
            try:
                os.write(self._open(), f"{message_id}\n".encode())
            except OSError:
                log.warning("mail journal %s not written: the database mark alone protects from a resend",
                            self.path, exc_info=True)
                return
            self._unmarked += 1

    def marked(self) -> None:
        """The database mark of one accepted mail committed: empty the journal when nothing is left to mark."""
        with self._lock:
            self._unmarked = max(self._unmarked - 1, 0)
            if self._unmarked == 0 and self._fd is not None and os.fstat(self._fd).st_size > EMPTY_WHEN_LARGER_THAN:
                os.ftruncate(self._fd, 0)

    def holds(self, message_id: str) -> bool:
        """Whether a process of this machine wrote `message_id` down as accepted (the retry's question)."""
        line = f"\n{message_id}\n".encode()
        if not self.directory.is_dir():
            return False
        for path in self.directory.glob(f"{PREFIX}*{SUFFIX}"):
            try:
                if line in b"\n" + path.read_bytes():
                    return True
            except FileNotFoundError:
                continue
        return False

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def orphaned(directory: Path) -> list[Path]:
    """The journals of this host's processes that are gone (not this one's)."""
    found = []
    for path in directory.glob(f"{PREFIX}{_host()}-*{SUFFIX}"):
        pid_text = path.name[len(f"{PREFIX}{_host()}-"):-len(SUFFIX)]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text)):
            found.append(path)
    return found


def absorb(directory: Path, mark_sent: Callable[[Iterable[str]], None]) -> int:
    """Mark the mails of dead processes' journals sent (`mark_sent`, by Message-ID), then delete those
    journals; how many mails."""
    count = 0
    for path in orphaned(directory):
        message_ids = [line for line in path.read_text(errors="replace").splitlines() if line]
        if message_ids:
            mark_sent(message_ids)
        count += len(message_ids)
        path.unlink(missing_ok=True)
    return count


_journals: dict[Path, SentJournal] = {}
_journals_lock = threading.Lock()


def journal_for(directory: Path) -> SentJournal:
    """This process's journal in `directory` (one per directory, opened on first use)."""
    directory = directory.resolve()
    with _journals_lock:
        journal = _journals.get(directory)
        if journal is None or journal.path.name != f"{PREFIX}{_host()}-{os.getpid()}{SUFFIX}":
            journal = _journals[directory] = SentJournal(directory)
        return journal
