"""The ``Mailer`` adapters: ``console`` (the embedded default) and ``smtp`` (aiosmtplib).

``SMTP_URL`` is ``smtp://user:pass@host:587?starttls=true`` (``smtps://`` for implicit TLS on 465;
``starttls`` defaults to true on ``smtp://`` unless the host is local). The console mailer writes
the rendered mail to the log; either way the use case records it in ``sent_emails``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from src.domain.notifications.email import OutgoingEmail
from src.infrastructure.logging import get_logger

logger = get_logger("parley.mail")


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    """A MIME ``multipart/alternative`` message: plain text first, then HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class ConsoleMailer:
    """Logs each mail (recipient, subject, headers and the plain-text body) instead of sending it."""

    name = "console"

    def __init__(self, sender: str) -> None:
        self._sender = sender

    async def send(self, email: OutgoingEmail) -> None:
        logger.info(
            "email_sent",
            transport=self.name,
            sender=self._sender,
            to=email.to,
            subject=email.subject,
            headers=dict(email.headers),
            text=email.text,
        )


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    implicit_tls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 10.0) -> SmtpConfig:
        """Raises ``ValueError`` with a readable reason for a URL it cannot use."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("has no host")
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        flag = (query.get("starttls") or [""])[0].lower()
        if flag not in ("", "true", "false", "1", "0"):
            raise ValueError("starttls must be true or false")
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        starttls = (flag in ("true", "1")) if flag else not implicit and not local
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=starttls and not implicit,
            implicit_tls=implicit,
            timeout=timeout,
        )


class SmtpMailer:
    """One SMTP connection per mail (mail is rare: a digest at most every few minutes per user).

    A refusal or an unreachable server raises (``aiosmtplib.SMTPException``, ``OSError``): the job
    that sends retries with backoff and lands in the failed jobs after its last try.
    """

    name = "smtp"

    def __init__(self, config: SmtpConfig, sender: str, *, tls_context: ssl.SSLContext | None = None) -> None:
        """``tls_context``: whom to trust for (START)TLS; the system's certificate authorities by default."""
        self._config = config
        self._sender = sender
        self._tls_context = tls_context

    async def send(self, email: OutgoingEmail) -> None:
        c = self._config
        await aiosmtplib.send(
            build_message(email, self._sender),
            hostname=c.host,
            port=c.port,
            username=c.username,
            password=c.password,
            use_tls=c.implicit_tls,
            start_tls=c.starttls,
            timeout=c.timeout,
            tls_context=self._tls_context,
        )
        logger.info("email_sent", transport=self.name, to=email.to, subject=email.subject)
