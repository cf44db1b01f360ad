"""Notifications and e-mail (docs/NOTIFICATIONS.md; unset SMTP_URL: e-mail goes to the console)."""

from __future__ import annotations

from dataclasses import dataclass

from src.infrastructure.settings.reading import ConfigError, Reader, default_of, manual, read_group, var


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    retention_days: int = var("NOTIFICATION_RETENTION_DAYS", 90, minimum=1, maximum=3650)
    #: May hold a password: masked as a URL, never in a repr.
    smtp_url: str | None = var("SMTP_URL", None, url=("smtp", "smtps"), repr=False)
    smtp_timeout: float = var("SMTP_TIMEOUT", 10.0, minimum=0.1)
    #: The sender of e-mail: an address, with or without a display name.
    mail_from: str = manual("MAIL_FROM", "Parley <parley@localhost>")
    email_digest_minutes: int = var("EMAIL_DIGEST_MINUTES", 15, minimum=1, maximum=1440)


def load_notifications(env: Reader) -> NotificationSettings:
    mail_from = env.text("MAIL_FROM", default_of(NotificationSettings, "mail_from"))
    if "@" not in mail_from:
        raise ConfigError(
            "MAIL_FROM", f"must hold an e-mail address such as 'Parley <parley@example.com>', got {mail_from!r}"
        )
    return read_group(NotificationSettings, env, mail_from=mail_from)
