"""knowledge: articles, tags, paragraphs, word counts, search indexes

Revision ID: 4b1e5d0c7a11
Revises: f84eee1a683b
Create Date: 2026-11-22 05:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = '4b1e5d0c7a11'
down_revision: str | None = 'f84eee1a683b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The full-text indexes are not models (see knowledge_models.SEARCH_INDEX_TABLES): their terms are
# computed in Python (src/domain/knowledge/words.py) and stored as written, so that both databases
# answer exactly the reference service's word semantics.
# PostgreSQL: a tsvector per row (built from those terms, no text search configuration involved)
# with a GIN index. SQLite: FTS5 tables over the same terms, encoded to [a-z0-9_] tokens.
FTS5_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"


def upgrade() -> None:
    op.create_table('paragraph',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paragraph')),
    sa.UniqueConstraint('seq', name='uq_paragraph_seq')
    )
    # Which paragraphs (by seq, a chunk of 8192 at a time) hold each term: exact counts and pages
    # of the paragraph search read these rows only (see persistence/knowledge_bitmaps.py).
    op.create_table('paragraph_term_bitmap',
    sa.Column('term', sa.String(length=200), nullable=False),
    sa.Column('chunk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('bits', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('term', 'chunk', name=op.f('pk_paragraph_term_bitmap'))
    )
    op.create_table('tag',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag')),
    sa.UniqueConstraint('name', name='uq_tag_name')
    )
    # Word counts are added to as paragraphs arrive (INSERT ... ON CONFLICT DO UPDATE); the
    # dictionary reads the most frequent through the (count, word) index.
    op.create_table('word_count',
    sa.Column('word', sa.String(length=200), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('word', name=op.f('pk_word_count'))
    )
    with op.batch_alter_table('word_count', schema=None) as batch_op:
        batch_op.create_index('ix_word_count_count_word', ['count', 'word'], unique=False)

    op.create_table('article',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('author_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('visibility', sa.String(length=20), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_article_author_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article'))
    )
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index('ix_article_author_id_created_at', ['author_id', 'created_at'], unique=False)
        batch_op.create_index('ix_article_status_visibility_created_at', ['status', 'visibility', 'created_at'], unique=False)

    op.create_table('article_tag',
    sa.Column('article_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('tag_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], name=op.f('fk_article_tag_article_id_article'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_article_tag_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'tag_id', name=op.f('pk_article_tag'))
    )
    with op.batch_alter_table('article_tag', schema=None) as batch_op:
        batch_op.create_index('ix_article_tag_tag_id', ['tag_id'], unique=False)

    if op.get_context().dialect.name == 'postgresql':
        # Paragraph sequence numbers; on SQLite (one writer) the next is max(seq) + 1.
        op.execute('CREATE SEQUENCE paragraph_seq OWNED BY paragraph.seq')
        op.execute(
            'CREATE TABLE paragraph_search ('
            ' paragraph_id uuid NOT NULL PRIMARY KEY REFERENCES paragraph (id) ON DELETE CASCADE,'
            ' search_vector tsvector NOT NULL)'
        )
        op.execute('CREATE INDEX ix_paragraph_search_search_vector ON paragraph_search USING gin (search_vector)')
        op.execute(
            'CREATE TABLE article_search ('
            ' article_id uuid NOT NULL PRIMARY KEY REFERENCES article (id) ON DELETE CASCADE,'
            ' search_vector tsvector NOT NULL)'
        )
        op.execute('CREATE INDEX ix_article_search_search_vector ON article_search USING gin (search_vector)')
    else:
        op.execute(
            f'CREATE VIRTUAL TABLE paragraph_search USING fts5('
            f'terms, paragraph_id UNINDEXED, tokenize="{FTS5_TOKENIZER}")'
        )
        op.execute(
            f'CREATE VIRTUAL TABLE article_search USING fts5('
            f'title_terms, body_terms, article_id UNINDEXED, tokenize="{FTS5_TOKENIZER}")'
        )


def downgrade() -> None:
    op.execute('DROP TABLE IF EXISTS article_search')
    op.execute('DROP TABLE IF EXISTS paragraph_search')
    with op.batch_alter_table('article_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_article_tag_tag_id')

    op.drop_table('article_tag')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index('ix_article_status_visibility_created_at')
        batch_op.drop_index('ix_article_author_id_created_at')

    op.drop_table('article')
    with op.batch_alter_table('word_count', schema=None) as batch_op:
        batch_op.drop_index('ix_word_count_count_word')

    op.drop_table('word_count')
    op.drop_table('tag')
    op.drop_table('paragraph_term_bitmap')
    op.drop_table('paragraph')  # its sequence (OWNED BY paragraph.seq) goes with it
