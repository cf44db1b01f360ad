"""The SQLAlchemy unit of work: one session, one transaction, repositories bound to it."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from sqlalchemy.ext.asyncio import AsyncSession

from src.application.shared.ports import Clock
from src.infrastructure.clock import SystemClock
from src.infrastructure.logging import get_logger
from src.infrastructure.persistence import driver
from src.infrastructure.persistence.database import READ_ONLY_OPTIONS, Database
from src.infrastructure.persistence.repositories import SqlJobReceiptRepository, SqlOutboxRepository
from src.infrastructure.persistence.scopes.admin import AdminRepositories
from src.infrastructure.persistence.scopes.chat import ChatRepositories
from src.infrastructure.persistence.scopes.identity import IdentityRepositories
from src.infrastructure.persistence.scopes.knowledge import KnowledgeRepositories
from src.infrastructure.persistence.scopes.notifications import NotificationRepositories
from src.infrastructure.persistence.scopes.usage import UsageRepositories

if TYPE_CHECKING:
    from src.infrastructure.persistence.notification_repositories import SqlProcessedEventRepository

logger = get_logger("parley.db")

OutboxListener = Callable[[], None]


class WriterGate:
    """Lets one writing unit of work at a time into SQLite, in arrival order.

    SQLite has one writer. Without the gate, concurrent writers queue inside SQLite's busy
    handler, which polls with sleeps of up to 100 ms: under load, writes wait hundreds of
    milliseconds for a lock that was free long before. Queuing on an asyncio lock instead hands
    the lock over the moment it is released. One lock per event loop (tests and tools may run a
    container from more than one); read-only units of work never wait here.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        found = self._locks.get(loop)
        if found is None:
            found = self._locks[loop] = asyncio.Lock()
        return found


class SqlAlchemyUnitOfWork(
    AdminRepositories,
    ChatRepositories,
    IdentityRepositories,
    KnowledgeRepositories,
    NotificationRepositories,
    UsageRepositories,
):
    """One session, one transaction: the shared repositories here, each context's from its mixin
    (a new context adds its ``<Context>Repositories`` to the bases, one line)."""

    def __init__(
        self,
        session_factory: Callable[[], AsyncSession],
        clock: Clock | None = None,
        outbox_listeners: list[OutboxListener] | None = None,
        *,
        read_only: bool = False,
        writer_gate: WriterGate | None = None,
    ) -> None:
        self._read_only = read_only
        self._writer_gate = writer_gate
        self._gate_held: asyncio.Lock | None = None
        self._session_factory = session_factory
        self._clock = clock or SystemClock()
        self._outbox_listeners = outbox_listeners if outbox_listeners is not None else []
        self._session: AsyncSession | None = None
        self._outbox_written = False

    @property
    def read_only(self) -> bool:
        return self._read_only

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

    @property
    def processed_events(self) -> SqlProcessedEventRepository:
        from src.infrastructure.persistence.notification_repositories import SqlProcessedEventRepository

        return SqlProcessedEventRepository(self.session)

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work is opened once")
        if self._writer_gate is not None and not self._read_only:
            self._gate_held = self._writer_gate.lock()
            await self._gate_held.acquire()
        self._session = self._session_factory()
        self._job_receipts = SqlJobReceiptRepository(self._session)
        self._outbox = SqlOutboxRepository(self._session, self._clock, on_add=self._note_outbox_write)
        if self._read_only:
            # Options set before the transaction begins; see persistence/database.py.
            await self._session.connection(execution_options=READ_ONLY_OPTIONS)
        else:
            driver.connect_on_first_statement(self._session)
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
            try:
                await driver.close(session)
            finally:
                self._session = None
                if self._gate_held is not None:
                    self._gate_held.release()
                    self._gate_held = None

    async def commit(self) -> None:
        await driver.commit(self.session)
        if self._outbox_written:
            self._outbox_written = False
            self._notify_outbox()

    async def rollback(self) -> None:
        self._outbox_written = False
        await driver.rollback(self.session)

    def _note_outbox_write(self) -> None:
        self._outbox_written = True

    def _notify_outbox(self) -> None:
        _notify(self._outbox_listeners)


def _notify(listeners: list[OutboxListener]) -> None:
    # The relay wakes at once instead of at its next tick; a listener's failure must never
    # turn a committed transaction into an error for the caller.
    for listener in listeners:
        try:
            listener()
        except Exception as exc:  # noqa: BLE001 - the commit already happened
            logger.warning("outbox_listener_failed", error=f"{type(exc).__name__}: {exc}")


class SqlAlchemyUnitOfWorkFactory:
    """Callable that opens a fresh unit of work: the ``uow`` every use case is given.

    ``clock`` stamps new outbox messages; listeners added with ``on_outbox_commit`` are called
    right after a transaction that wrote outbox messages commits (the relay wakes up on it).
    """

    def __init__(
        self,
        session_factory: Callable[[], AsyncSession],
        clock: Clock | None = None,
        *,
        writer_gate: WriterGate | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock or SystemClock()
        self._outbox_listeners: list[OutboxListener] = []
        self._writer_gate = writer_gate

    @classmethod
    def for_database(cls, database: Database, clock: Clock | None = None) -> SqlAlchemyUnitOfWorkFactory:
        """The factory for ``database``: with a writer gate on SQLite (one writer)."""
        sqlite = database.get_engine().dialect.name == "sqlite"
        return cls(database.create_session_maker(), clock, writer_gate=WriterGate() if sqlite else None)

    def on_outbox_commit(self, listener: OutboxListener) -> None:
        self._outbox_listeners.append(listener)

    def notify_outbox(self) -> None:
        """Outbox messages were committed outside a unit of work (one statement in autocommit,
        ``reply_end.py``): the listeners hear of it as after a unit of work's commit."""
        _notify(self._outbox_listeners)

    def __call__(self, *, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(
            self._session_factory,
            self._clock,
            self._outbox_listeners,
            read_only=read_only,
            writer_gate=self._writer_gate,
        )
