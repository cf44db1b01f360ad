"""Domain events: facts a use case records, in the same transaction as the change that caused them.

An event is a frozen dataclass with an id (UUIDv7: also its order) and the moment it happened. The
use case writes it to the outbox; after the commit, the relay hands it to the ``dispatch_event`` job,
which runs every handler registered for its type (see ``src/infrastructure/wiring/events.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    #: The stable name the event is stored and routed under (the class name unless overridden).
    type_name: ClassVar[str] = ""

    event_id: UUID
    occurred_at: datetime

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("times are timezone-aware")

    @classmethod
    def event_name(cls) -> str:
        return cls.type_name or cls.__name__
