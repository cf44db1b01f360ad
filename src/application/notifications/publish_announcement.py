"""PublishAnnouncement: an admin publishes an announcement to an audience (users:manage)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.admin.audit import record_audit
from src.application.notifications.announcements import AnnouncementTransaction
from src.application.notifications.views import AnnouncementView
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditTarget
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.notifications.events import AnnouncementPublished
from src.domain.notifications.model import Audience, check_announcement


@dataclass(frozen=True, slots=True)
class PublishAnnouncementCommand:
    title: str
    body: str
    audience: str


class PublishAnnouncement:
    def __init__(self, uow: UnitOfWorkFactory[AnnouncementTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: PublishAnnouncementCommand) -> AnnouncementView:
        if not principal.can(Permission.USERS_MANAGE):
            raise Forbidden("announcements need the users:manage permission")
        title, body = check_announcement(command.title, command.body)
        parsed = Audience.parse(command.audience)
        now = self._clock.now()
        event = AnnouncementPublished(
            event_id=new_id(now),
            occurred_at=now,
            announcement_id=new_id(now),
            author_id=principal.user_id,
            title=title,
            body=body,
            audience=str(parsed),
        )
        async with self._uow() as tx:
            await record_event(tx, event)
            await record_audit(
                tx,
                principal,
                AuditAction.ANNOUNCEMENT_PUBLISHED,
                AuditTarget.ANNOUNCEMENT,
                event.announcement_id,
                now=now,
                data={"title": title, "audience": str(parsed)},
            )
        return AnnouncementView(event.announcement_id, title, body, str(parsed), now)
