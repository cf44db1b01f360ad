"""``ModerationQueue`` in the database (``moderation_items``), one short transaction per call."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from src.domain.ai.moderation_queue import ModerationItem, ModerationItemStatus
from src.infrastructure.persistence.admin_repositories import moderation_item, moderation_item_row
from src.infrastructure.persistence.ai_models import ModerationItemModel
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory


class SqlModerationQueue:
    def __init__(self, uow: SqlAlchemyUnitOfWorkFactory) -> None:
        self._uow = uow

    async def enqueue(self, item: ModerationItem) -> None:
        async with self._uow() as tx:
            tx.session.add(self._row(item))

    @staticmethod
    def _row(item: ModerationItem) -> ModerationItemModel:
        return ModerationItemModel(**moderation_item_row(item))

    async def enqueue_once(self, item: ModerationItem) -> bool:
        async with self._uow() as tx:
            seen = await tx.session.scalar(
                select(ModerationItemModel.id)
                .where(
                    ModerationItemModel.kind == item.kind.value,
                    ModerationItemModel.target_id == item.target_id,
                )
                .limit(1)
            )
            if seen is not None:
                return False
            tx.session.add(self._row(item))
            return True

    async def list_open(self, limit: int = 50) -> Sequence[ModerationItem]:
        async with self._uow(read_only=True) as tx:
            rows = await tx.session.scalars(
                select(ModerationItemModel)
                .where(ModerationItemModel.status == ModerationItemStatus.OPEN.value)
                .order_by(ModerationItemModel.created_at, ModerationItemModel.id)
                .limit(limit)
            )
            return [moderation_item(row) for row in rows]
