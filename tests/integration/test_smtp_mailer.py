"""The SMTP mailer against a real SMTP server (aiosmtpd on a spare port): what arrives, a server that
refuses (the event's job retried, then failed), and a server that is down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from src.application.notifications.email import DeliverEmail, EmailComposer
from src.application.notifications.notify import Notify
from src.application.notifications.reactions import NotificationReactions
from src.application.shared.dispatch_event import DispatchEvent, EventHandler
from src.application.shared.events import DISPATCH_EVENT_JOB, encode_event
from src.application.shared.run_job_once import RunJobOnce
from src.domain.identity.events import PasswordChanged
from src.domain.identity.model import Role, Tier, User
from src.domain.notifications.email import OutgoingEmail, PendingEmail
from src.domain.notifications.model import Category
from src.infrastructure.notifications.event_observer import LoggingEventObserver
from src.infrastructure.notifications.mailers import SmtpConfig, SmtpMailer
from src.infrastructure.notifications.templates import FileEmailTemplates
from src.infrastructure.notifications.unsubscribe import HmacUnsubscribeLinks
from src.infrastructure.queue.catalog import JobCatalog, JobSpec
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.settings import ConfigError
from src.infrastructure.wiring.notifications import build_mailer
from tests.conftest import SettingsFactory
from tests.fakes.notifications import RecordingLivePush
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory
from tests.redis_process import free_port
from tests.smtp_server import self_signed, smtp_server

SENDER = "Parley <parley@example.com>"
NOW = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def composer() -> EmailComposer:
    return EmailComposer(FileEmailTemplates(), HmacUnsubscribeLinks("s" * 40, "https://parley.example.com"))


def user() -> User:
    return User(uuid.uuid4(), "ada@example.com", "Ada <b>", "x", Role.CREATOR, Tier.FREE, True, NOW, NOW)


def mailer_for(port: int) -> SmtpMailer:
    return SmtpMailer(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}?starttls=false", timeout=2), SENDER)


async def test_a_digest_arrives_with_both_bodies_and_the_unsubscribe_headers() -> None:
    ada = user()
    items = [
        PendingEmail(uuid.uuid4(), ada.id, Category.CONTENT, "Summary ready: <Cats>", "The summary is ready.", NOW),
        PendingEmail(uuid.uuid4(), ada.id, Category.CONTENT, "3 new paragraphs fetched", "Searchable now.", NOW),
    ]
    email = composer().compose(ada, Category.CONTENT, items)
    with smtp_server() as server:
        await mailer_for(server.port).send(email)
    ((mail_from, rcpt, message),) = server.handler.received
    assert mail_from == "parley@example.com"
    assert rcpt == ["ada@example.com"]
    assert message["From"] == SENDER
    assert message["Subject"] == "[Parley] 2 new content notifications"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://parley.example.com/api/v1/notifications/unsubscribe?token=")
    assert message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Hello Ada <b>," in text.get_content()
    assert "Summary ready: <Cats>" in text.get_content()
    # The HTML body escapes what users wrote.
    assert "Hello Ada &lt;b&gt;," in html.get_content()
    assert "Summary ready: &lt;Cats&gt;" in html.get_content()


async def test_starttls_when_the_url_asks_for_it(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    email = OutgoingEmail("ada@example.com", "over TLS", "t", "<p>t</p>")
    with smtp_server(tls=server_tls) as server:
        secure = SmtpMailer(
            SmtpConfig.from_url(f"smtp://127.0.0.1:{server.port}?starttls=true", timeout=5),
            SENDER,
            tls_context=client_tls,
        )
        await secure.send(email)
        # Without STARTTLS this server refuses the mail (it requires TLS first).
        with pytest.raises(aiosmtplib.SMTPException):
            await mailer_for(server.port).send(email)
    assert server.handler.tls == [True]
    assert server.handler.received[0][2]["Subject"] == "over TLS"


async def test_a_refusing_server_and_a_server_that_is_down_raise() -> None:
    email = OutgoingEmail("ada@example.com", "s", "t", "<p>t</p>")
    with smtp_server(refuse="554 5.7.1 Message rejected") as server, pytest.raises(aiosmtplib.SMTPDataError):
        await mailer_for(server.port).send(email)
    with pytest.raises((aiosmtplib.SMTPConnectError, OSError)):
        await mailer_for(free_port()).send(email)


async def test_a_refused_security_mail_is_retried_with_backoff_then_lands_in_the_failed_jobs() -> None:
    clock = FakeClock(NOW)
    uow = FakeUnitOfWorkFactory(clock=clock)
    ada = user()
    uow.database.identity.users[ada.id] = ada
    with smtp_server(refuse="451 4.3.0 Try again later") as server:
        mailer = mailer_for(server.port)
        notify = Notify(uow, clock, RecordingLivePush(), composer(), DeliverEmail(uow, clock, mailer))
        reactions = NotificationReactions(notify)
        dispatch = DispatchEvent(
            uow,
            clock,
            {PasswordChanged: [EventHandler("notifications.password_changed", reactions.password_changed)]},
            LoggingEventObserver(),
        )

        async def run(payload: Mapping[str, Any]) -> Any:
            return await dispatch(payload)

        spec = JobSpec(DISPATCH_EVENT_JOB, run, retries=2, retry_delay_seconds=0.05, max_retry_delay_seconds=0.1)
        queue = InProcessTaskQueue(JobCatalog([spec], RunJobOnce(uow, clock)))
        await queue.start()
        try:
            event = PasswordChanged(event_id=uuid.uuid4(), occurred_at=NOW, user_id=ada.id)
            await queue.enqueue(DISPATCH_EVENT_JOB, encode_event(event), dedupe_key="outbox-1")
            await asyncio.wait_for(queue.join(), 10)
        finally:
            await queue.stop()
    (failed,) = queue.failed
    assert failed.attempts == 3
    assert failed.error is not None
    assert "notifications.password_changed" in failed.error
    assert "SMTPDataError" in failed.error
    assert server.handler.attempts == 3
    # The in-app notification was stored once, not once per attempt.
    assert len(uow.database.notifications.notifications) == 1


def test_smtp_settings(make_settings: SettingsFactory) -> None:
    config = SmtpConfig.from_url("smtp://me%40x.org:p%3Ass@mail.example.com:2525?starttls=true")
    assert (config.host, config.port, config.username, config.password) == (
        "mail.example.com",
        2525,
        "me@x.org",
        "p:ss",
    )
    assert config.starttls
    assert not config.implicit_tls
    tls = SmtpConfig.from_url("smtps://mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.starttls) == (465, True, False)
    assert not SmtpConfig.from_url("smtp://localhost:25").starttls
    assert SmtpConfig.from_url("smtp://mail.example.com").port == 587
    assert build_mailer(make_settings()).name == "console"
    assert "hunter2" not in repr(make_settings(SMTP_URL="smtp://me:hunter2@mail.example.com").masked())
    defaults = make_settings()
    assert (defaults.notifications.retention_days, defaults.notifications.email_digest_minutes) == (90, 15)
    assert defaults.server.public_url == "http://127.0.0.1:8000"
    assert build_mailer(make_settings(SMTP_URL="smtp://mail.example.com:587")).name == "smtp"
    with pytest.raises(ConfigError, match="SMTP_URL"):
        build_mailer(make_settings(SMTP_URL="smtp://mail.example.com?starttls=maybe"))
    with pytest.raises(ConfigError, match="SMTP_URL"):
        make_settings(SMTP_URL="http://mail.example.com")
    with pytest.raises(ConfigError, match="MAIL_FROM"):
        make_settings(MAIL_FROM="nobody")
