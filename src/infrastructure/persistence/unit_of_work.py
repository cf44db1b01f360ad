"""The SQLAlchemy unit of work: one session, one transaction, repositories bound to it."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession

from src.application.shared.ports import Clock
from src.infrastructure.clock import SystemClock
from src.infrastructure.logging import get_logger
from src.infrastructure.persistence.database import READ_ONLY_OPTIONS
from src.infrastructure.persistence.repositories import SqlJobReceiptRepository, SqlOutboxRepository

logger = get_logger("parley.db")

OutboxListener = Callable[[], None]


class SqlAlchemyUnitOfWork:
    def __init__(
        self,
        session_factory: Callable[[], AsyncSession],
        clock: Clock | None = None,
        outbox_listeners: list[OutboxListener] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self._read_only = read_only
        self._session_factory = session_factory
        self._clock = clock or SystemClock()
        self._outbox_listeners = outbox_listeners if outbox_listeners is not None else []
        self._session: AsyncSession | None = None
        self._outbox_written = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with uow() as tx:`")
        return self._session

    @property
    def job_receipts(self) -> SqlJobReceiptRepository:
        self.session  # noqa: B018 - raises when the unit of work is not open
        return self._job_receipts

    @property
    def outbox(self) -> SqlOutboxRepository:
        self.session  # noqa: B018 - raises when the unit of work is not open
        return self._outbox

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work is opened once")
        self._session = self._session_factory()
        self._job_receipts = SqlJobReceiptRepository(self._session)
        self._outbox = SqlOutboxRepository(self._session, self._clock, on_add=self._note_outbox_write)
        if self._read_only:
            # Options set before the transaction begins; see persistence/database.py.
            await self._session.connection(execution_options=READ_ONLY_OPTIONS)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.rollback()
        finally:
            await session.close()
            self._session = None

    async def commit(self) -> None:
        await self.session.commit()
        if self._outbox_written:
            self._outbox_written = False
            self._notify_outbox()

    async def rollback(self) -> None:
        self._outbox_written = False
        await self.session.rollback()

    def _note_outbox_write(self) -> None:
        self._outbox_written = True

    def _notify_outbox(self) -> None:
        # The relay wakes at once instead of at its next tick; a listener's failure must never
        # turn a committed transaction into an error for the caller.
        for listener in self._outbox_listeners:
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - the commit already happened
                logger.warning("outbox_listener_failed", error=f"{type(exc).__name__}: {exc}")


class SqlAlchemyUnitOfWorkFactory:
    """Callable that opens a fresh unit of work: the ``uow`` every use case is given.

    ``clock`` stamps new outbox messages; listeners added with ``on_outbox_commit`` are called
    right after a transaction that wrote outbox messages commits (the relay wakes up on it).
    """

    def __init__(self, session_factory: Callable[[], AsyncSession], clock: Clock | None = None) -> None:
        self._session_factory = session_factory
        self._clock = clock or SystemClock()
        self._outbox_listeners: list[OutboxListener] = []

    def on_outbox_commit(self, listener: OutboxListener) -> None:
        self._outbox_listeners.append(listener)

    def __call__(self, *, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._session_factory, self._clock, self._outbox_listeners, read_only=read_only)
