"""A real SMTP server for tests: aiosmtpd on a free port of 127.0.0.1, collecting what it receives.

Use it from a test module (or a conftest) with::

    from tests.smtp_fixture import smtp_server  # noqa: F401  (a pytest fixture)

    async def test_something(smtp_server):
        settings = Settings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, ...)
        ...
        [mail] = await smtp_server.wait_for(1, timeout=5)

`wait_for` is async (it must not block the event loop that runs the Temporal worker or the code
under test); `wait_for_sync` is its blocking twin for sync tests. `stop()`/`start()` take the
server down and bring it back on the same port, to test "SMTP is down" paths.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller


class _FreePortController(Controller):
    """Accept port 0: read the port the OS chose before aiosmtpd's self-test connects to it."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Collector:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.server._received(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []  # the RCPT TO of each message, same order
        self._condition = threading.Condition()
        self._controller: _FreePortController | None = None

    def _received(self, message: EmailMessage, rcpt_tos: list[str]) -> None:
        with self._condition:
            self.messages.append(message)
            self.envelopes.append(rcpt_tos)
            self._condition.notify_all()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpServer":
        if self._controller is None:
            controller = _FreePortController(_Collector(self), hostname=self.host, port=self.port)
            controller.start()
            self.port = controller.port  # kept: a restart listens on the same port
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        with self._condition:
            self.messages.clear()
            self.envelopes.clear()

    def wait_for_sync(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived; return them. TimeoutError otherwise."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} message(s) received, {count} expected")
            return list(self.messages)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait (without blocking the event loop) until at least `count` messages arrived."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(self.messages)} message(s) received, {count} expected")
            await asyncio.sleep(0.02)
        return list(self.messages)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
