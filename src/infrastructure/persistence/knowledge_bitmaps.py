"""Posting bitmaps: which paragraphs hold each term, for exact counts and ordered pages in a millisecond.

Each paragraph has a sequence number (``paragraph.seq``: 1, 2, 3, ... in the order they were
stored). For each term (see ``src/domain/knowledge/words.py``) and each chunk of 8192 sequence
numbers, one row of ``paragraph_term_bitmap`` holds the set of the chunk's paragraphs that have the
term. A search reads the rows of its words only (a few dozen small rows for 100,000 paragraphs) and
combines them in Python: ``and`` intersects, ``or`` unites, the total is the number of bits set and a
page is the ``offset``-th to ``offset + limit``-th set bit, oldest first. No paragraph, and no other
term, is ever read: the cost depends on the words' rows, not on how many paragraphs there are or
match (a GIN or FTS5 index must still visit every match to count them).

A chunk is stored like a roaring bitmap's container: the sorted 2-byte offsets of its members
while there are few (a rare word costs a few bytes), the 1 KiB bitmap once there are 512 or more.
Adding paragraphs locks the rows it changes in one order (term, chunk), inserting missing ones
first, so that concurrent writers merge instead of overwriting each other.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.domain.knowledge.words import SearchOperator, SearchQuery
from src.infrastructure.persistence.driver import fetch_on_driver
from src.infrastructure.persistence.knowledge_models import ParagraphTermBitmapModel

CHUNK_BITS = 8192
#: Up to this many members a chunk is a list of offsets (2 bytes each); from here on, a bitmap.
MAX_SPARSE = CHUNK_BITS // 16
_SPARSE, _DENSE = b"\x00", b"\x01"
#: (term, chunk) keys per statement: SQLite allows at most 32766 bound values in one.
KEYS_PER_STATEMENT = 1000

Key = tuple[str, int]

_BITMAPS = ParagraphTermBitmapModel.__table__
_BITMAPS_NAME = ParagraphTermBitmapModel.__tablename__
#: The rows of a search's words. On PostgreSQL straight on the driver (see
#: ``driver.fetch_on_driver``), the words as one array parameter; on SQLite a prebuilt statement.
_ROWS_OF_TERMS_POSTGRES = f"SELECT chunk, bits FROM {_BITMAPS_NAME} WHERE term = ANY($1::text[])"
_ROWS_OF_TERMS_SQLITE = sa.select(_BITMAPS.c.chunk, _BITMAPS.c.bits).where(
    _BITMAPS.c.term.in_(sa.bindparam("p_terms", expanding=True))
)


def encode_chunk(members: int) -> bytes:
    """A chunk's members (bit ``i`` set: the chunk's ``i``-th sequence number) as stored."""
    count = members.bit_count()
    if count < MAX_SPARSE:
        return _SPARSE + struct.pack(f"<{count}H", *set_bits(members))
    return _DENSE + members.to_bytes(CHUNK_BITS // 8, "little")


def decode_chunk(stored: bytes) -> int:
    if stored[:1] == _DENSE:
        return int.from_bytes(stored[1:], "little")
    members = 0
    for offset in struct.unpack(f"<{(len(stored) - 1) // 2}H", stored[1:]):
        members |= 1 << offset
    return members


def set_bits(value: int) -> Iterator[int]:
    """The positions of the bits set in ``value``, lowest first."""
    while value:
        lowest = value & -value
        yield lowest.bit_length() - 1
        value ^= lowest


def postings(documents: Iterable[tuple[int, Iterable[str]]]) -> dict[Key, int]:
    """For (sequence number, terms) pairs: each (term, chunk)'s new members."""
    found: dict[Key, int] = {}
    for seq, terms in documents:
        chunk, bit = divmod(seq, CHUNK_BITS)
        mask = 1 << bit
        for term in terms:
            key = (term, chunk)
            found[key] = found.get(key, 0) | mask
    return found


def _batches(keys: Sequence[Key]) -> Iterator[Sequence[Key]]:
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        yield keys[start : start + KEYS_PER_STATEMENT]


class PostingBitmaps:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        postgres = session.get_bind().dialect.name == "postgresql"
        self._insert = postgres_insert if postgres else sqlite_insert
        self._postgres = postgres

    async def add(self, new_members: Mapping[Key, int]) -> None:
        """Add members to their (term, chunk) rows; concurrent writers never lose one."""
        table = ParagraphTermBitmapModel
        keys = sorted(new_members)
        for batch in _batches(keys):
            # Missing rows first (empty), so that every row exists and can be locked ...
            await self._session.execute(
                self._insert(table)
                .values([{"term": term, "chunk": chunk, "bits": _SPARSE} for term, chunk in batch])
                .on_conflict_do_nothing(index_elements=[table.term, table.chunk])
            )
            # ... then read and lock them in one order (PostgreSQL; SQLite has one writer), merge, write.
            rows = await self._session.execute(
                sa.select(table.term, table.chunk, table.bits)
                .where(sa.tuple_(table.term, table.chunk).in_(batch))
                .order_by(table.term, table.chunk)
                .with_for_update()
            )
            merged = [
                {"term": term, "chunk": chunk, "bits": encode_chunk(decode_chunk(bits) | new_members[(term, chunk)])}
                for term, chunk, bits in rows
            ]
            upsert = self._insert(table).values(merged)
            await self._session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[table.term, table.chunk], set_={"bits": upsert.excluded.bits}
                )
            )

    async def matches(self, query: SearchQuery) -> dict[int, int]:
        """Each chunk's paragraphs that match ``query`` (chunks with none left out)."""
        rows: Iterable[Any]
        if self._postgres:
            rows = await fetch_on_driver(self._session, _ROWS_OF_TERMS_POSTGRES, list(query.words))
        else:
            rows = await self._session.execute(_ROWS_OF_TERMS_SQLITE, {"p_terms": list(query.words)})
        by_chunk: dict[int, list[int]] = {}
        for chunk, bits in rows:
            by_chunk.setdefault(chunk, []).append(decode_chunk(bits))
        combined: dict[int, int] = {}
        for chunk, sets in by_chunk.items():
            if query.operator is SearchOperator.AND:
                if len(sets) < len(query.words):
                    continue  # a word absent from the whole chunk
                members = sets[0]
                for other in sets[1:]:
                    members &= other
            else:
                members = 0
                for other in sets:
                    members |= other
            if members:
                combined[chunk] = members
        return combined

    async def search(self, query: SearchQuery, *, limit: int, offset: int) -> tuple[list[int], int]:
        """The sequence numbers of the page (oldest first) and the total number of matches."""
        chunks = await self.matches(query)
        total = sum(members.bit_count() for members in chunks.values())
        page: list[int] = []
        skip = offset
        for chunk in sorted(chunks):
            if len(page) >= limit:
                break
            members = chunks[chunk]
            count = members.bit_count()
            if skip >= count:
                skip -= count
                continue
            for bit in set_bits(members):
                if skip:
                    skip -= 1
                    continue
                page.append(chunk * CHUNK_BITS + bit)
                if len(page) >= limit:
                    break
        return page, total
