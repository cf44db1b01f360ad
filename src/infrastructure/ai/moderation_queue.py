"""``ModerationQueue`` in the database (``moderation_items``), one short transaction per call."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from src.domain.ai.moderation_queue import ModerationItem, ModerationItemKind, ModerationItemStatus
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
        return ModerationItemModel(
            id=item.id,
            kind=item.kind.value,
            target_id=item.target_id,
            user_id=item.user_id,
            reasons=list(item.reasons),
            excerpt=item.excerpt,
            status=item.status.value,
            created_at=item.created_at,
            updated_at=item.created_at,
        )

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
            return [
                ModerationItem(
                    id=row.id,
                    kind=ModerationItemKind(row.kind),
                    target_id=row.target_id,
                    user_id=row.user_id,
                    reasons=tuple(row.reasons),
                    excerpt=row.excerpt,
                    status=ModerationItemStatus(row.status),
                    created_at=row.created_at,
                )
                for row in rows
            ]
