"""A real SMTP server for the tests (aiosmtpd on a spare port), recording what it receives."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.redis_process import free_port


@dataclass
class RecordingHandler:
    """Keeps each message; ``refuse`` makes it answer DATA with that SMTP reply instead."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: str | None = None
    attempts: int = 0
    #: Whether each received message came over TLS.
    tls: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.attempts += 1
        if self.refuse is not None:
            return self.refuse
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        self.tls.append(session.ssl is not None)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=false"


@contextmanager
def smtp_server(*, refuse: str | None = None, tls: ssl.SSLContext | None = None) -> Iterator[SmtpServer]:
    """``tls``: the server's certificate; it then requires STARTTLS before MAIL."""
    handler = RecordingHandler(refuse=refuse)
    port = free_port()
    options: dict[str, Any] = {"tls_context": tls, "require_starttls": True} if tls is not None else {}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for 127.0.0.1 (openssl): the server's context, and a client context trusting it."""
    key, cert = directory / "smtp.key", directory / "smtp.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client
