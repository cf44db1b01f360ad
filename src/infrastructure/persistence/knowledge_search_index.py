"""The full-text indexes of articles and paragraphs, one implementation per database.

Both index exactly the terms ``src/domain/knowledge/words.py`` computes in Python (never a database
tokenizer, whose idea of a word differs from the reference service's, e.g. at apostrophes), and a
search word matches exactly when it is one of a row's terms. Terms are stored encoded as tokens of
``[a-z0-9_]``: a term of lower-case ASCII letters and digits as itself, any other (apostrophes,
accented letters) as ``_`` and the hex of its UTF-8 bytes. Plain terms hold no underscore, so the
two forms never collide, and no database tokenizer or query parser can split, widen or break them.

- PostgreSQL: a table ``<name>_search`` with a ``tsvector`` per row, written as a tsvector literal
  (lexemes taken as given: no text search configuration is involved), positions kept for ranking
  (title terms weighted ``A``), and a GIN index. Matching is ``search_vector @@ tsquery``, the query
  a tsquery literal of the encoded words joined by ``&`` or ``|``; ranking is ``ts_rank``.
- SQLite: an FTS5 virtual table ``<name>_search`` whose columns hold the encoded terms separated by
  spaces, with the ``unicode61`` tokenizer told that ``_`` is part of a token. Matching is
  ``MATCH '"t1" AND "t2"'``; ranking is BM25 (negated, so that higher is better on both databases).
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from src.domain.knowledge.words import SearchOperator, SearchQuery, Term, index_terms
from src.infrastructure.persistence.orm import GUID

_PLAIN_TERM = re.compile(r"[a-z0-9]+")
#: PostgreSQL keeps positions up to this, and at most this many per lexeme (more are clamped).
MAX_TSVECTOR_POSITION = 16383
MAX_POSITIONS_PER_LEXEME = 256
#: PostgreSQL weights of the indexed fields, in order (title ``A``, body ``D``, the default).
_WEIGHTS = ("A", "")


def encode_term(term: str) -> str:
    """A term as an index token of ``[a-z0-9_]`` (see the module's docstring)."""
    return term if _PLAIN_TERM.fullmatch(term) else "_" + term.encode().hex()


def tsvector_literal(fields: Sequence[Sequence[Term]]) -> str:
    """A PostgreSQL tsvector literal of the terms of each field, positions continuing across fields,
    the first field weighted ``A`` when there are several."""
    positions: dict[str, list[str]] = {}
    offset = 0
    for index, terms in enumerate(fields):
        weight = _WEIGHTS[index] if len(fields) > 1 and index < len(_WEIGHTS) else ""
        last = 0
        for term in terms:
            token = encode_term(term.text)
            found = positions.setdefault(token, [])
            if len(found) < MAX_POSITIONS_PER_LEXEME:
                found.append(f"{min(offset + term.position, MAX_TSVECTOR_POSITION)}{weight}")
            last = max(last, term.position)
        offset += last
    return " ".join(f"'{token}':{','.join(found)}" for token, found in positions.items())


def tsquery_literal(query: SearchQuery) -> str:
    joiner = " & " if query.operator is SearchOperator.AND else " | "
    return joiner.join(f"'{encode_term(word)}'" for word in query.words)


def fts5_text(terms: Iterable[Term]) -> str:
    return " ".join(encode_term(term.text) for term in terms)


def fts5_query(query: SearchQuery) -> str:
    joiner = " AND " if query.operator is SearchOperator.AND else " OR "
    return joiner.join(f'"{encode_term(word)}"' for word in query.words)


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """One full-text index: ``<table>`` holds ``<id_column>`` and one entry per text field."""

    table: str
    id_column: str
    #: The FTS5 columns, one per field (PostgreSQL folds the fields into one weighted tsvector).
    fts5_columns: tuple[str, ...]
    #: BM25 weights of the FTS5 columns.
    fts5_weights: tuple[float, ...]


PARAGRAPH_INDEX = IndexSpec("paragraph_search", "paragraph_id", ("terms",), (1.0,))
ARTICLE_INDEX = IndexSpec("article_search", "article_id", ("title_terms", "body_terms"), (10.0, 1.0))


class SearchIndex(ABC):
    """Reads and writes one index; ``for_session`` picks the database's implementation (PostgreSQL
    tsvector + GIN, or SQLite FTS5), each of which implements the abstract methods."""

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        #: The index table, as one object: statements must name it, not copies of it.
        self.table = self._table()

    @staticmethod
    def for_session(session: AsyncSession, spec: IndexSpec) -> SearchIndex:
        """The index for ``session``'s database: built once per database kind and index (it holds no
        state but its table's description, which every repository would otherwise build again)."""
        postgres = session.get_bind().dialect.name == "postgresql"
        index = _INDEXES.get((postgres, spec))
        if index is None:
            index = PostgresSearchIndex(spec) if postgres else SqliteSearchIndex(spec)
            _INDEXES[(postgres, spec)] = index
        return index

    @abstractmethod
    def _table(self) -> sa.TableClause: ...

    @property
    def owner_id(self) -> sa.ColumnClause[uuid.UUID]:
        column: sa.ColumnClause[uuid.UUID] = self.table.c[self.spec.id_column]
        return column

    @abstractmethod
    def matches(self, query: SearchQuery) -> ColumnElement[bool]:
        """The condition on ``table`` that a row matches ``query``."""
        ...

    @abstractmethod
    def score(self, query: SearchQuery) -> ColumnElement[float]:
        """How well a matching row matches (higher is better)."""
        ...

    async def put(self, session: AsyncSession, owner_id: uuid.UUID, texts: Sequence[str]) -> None:
        """Index ``texts`` (one per field) for a new owner row."""
        await self.put_many(session, [(owner_id, texts)])

    async def put_many(self, session: AsyncSession, rows: Sequence[tuple[uuid.UUID, Sequence[str]]]) -> None:
        """Index the texts (one per field) of many new owner rows."""
        await self.put_terms(session, [(owner_id, [index_terms(t) for t in texts]) for owner_id, texts in rows])

    @abstractmethod
    async def put_terms(
        self, session: AsyncSession, rows: Sequence[tuple[uuid.UUID, Sequence[Sequence[Term]]]]
    ) -> None:
        """``put_many`` with the terms already computed (one list per field)."""
        ...

    async def replace(self, session: AsyncSession, owner_id: uuid.UUID, texts: Sequence[str]) -> None:
        await self.remove(session, owner_id)
        await self.put(session, owner_id, texts)

    async def remove(self, session: AsyncSession, owner_id: uuid.UUID) -> None:
        await session.execute(sa.delete(self.table).where(self.owner_id == owner_id))


_INDEXES: dict[tuple[bool, IndexSpec], SearchIndex] = {}


class PostgresSearchIndex(SearchIndex):
    def _table(self) -> sa.TableClause:
        return sa.table(self.spec.table, sa.column(self.spec.id_column, GUID()), sa.column("search_vector", TSVECTOR()))

    def _tsquery(self, query: SearchQuery) -> ColumnElement[Any]:
        return sa.cast(sa.literal(tsquery_literal(query), sa.Text()), TSQUERY())

    def matches(self, query: SearchQuery) -> ColumnElement[bool]:
        return self.table.c.search_vector.op("@@", return_type=sa.Boolean())(self._tsquery(query))

    def score(self, query: SearchQuery) -> ColumnElement[float]:
        return sa.func.ts_rank(self.table.c.search_vector, self._tsquery(query), type_=sa.Float())

    async def put_terms(
        self, session: AsyncSession, rows: Sequence[tuple[uuid.UUID, Sequence[Sequence[Term]]]]
    ) -> None:
        if not rows:
            return
        statement = sa.text(
            f"INSERT INTO {self.spec.table} ({self.spec.id_column}, search_vector) "
            "VALUES (:owner_id, CAST(:vector AS tsvector))"
        ).bindparams(sa.bindparam("owner_id", type_=GUID()))
        await session.execute(
            statement,
            [{"owner_id": owner_id, "vector": tsvector_literal(fields)} for owner_id, fields in rows],
        )


class SqliteSearchIndex(SearchIndex):
    def _table(self) -> sa.TableClause:
        return sa.table(
            self.spec.table,
            sa.column("rowid", sa.Integer()),
            sa.column(self.spec.id_column, GUID()),
            *(sa.column(c, sa.Text()) for c in self.spec.fts5_columns),
        )

    def matches(self, query: SearchQuery) -> ColumnElement[bool]:
        # FTS5: "<table> MATCH ..." searches every indexed column of the row.
        return sa.literal_column(self.spec.table).op("MATCH", return_type=sa.Boolean())(
            sa.literal(fts5_query(query), sa.Text())
        )

    def score(self, query: SearchQuery) -> ColumnElement[float]:
        return -sa.func.bm25(sa.literal_column(self.spec.table), *self.spec.fts5_weights, type_=sa.Float())

    async def put_terms(
        self, session: AsyncSession, rows: Sequence[tuple[uuid.UUID, Sequence[Sequence[Term]]]]
    ) -> None:
        if not rows:
            return
        columns = ", ".join(self.spec.fts5_columns)
        names = ", ".join(f":field_{i}" for i in range(len(self.spec.fts5_columns)))
        statement = sa.text(
            f"INSERT INTO {self.spec.table} ({self.spec.id_column}, {columns}) VALUES (:owner_id, {names})"
        ).bindparams(sa.bindparam("owner_id", type_=GUID()))
        await session.execute(
            statement,
            [
                {"owner_id": owner_id, **{f"field_{i}": fts5_text(terms) for i, terms in enumerate(fields)}}
                for owner_id, fields in rows
            ],
        )
