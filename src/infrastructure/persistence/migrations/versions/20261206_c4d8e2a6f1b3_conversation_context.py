"""conversation: the context cap and the running summary of older turns

Revision ID: c4d8e2a6f1b3
Revises: a7c3e9f1b2d4
Create Date: 2026-12-06 10:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = 'c4d8e2a6f1b3'
down_revision: str | None = 'a7c3e9f1b2d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing conversations get the deployment's cap (NULL) and a summary from now on. Literal
    # defaults ('1', not sa.true()) let SQLite add the columns in place instead of rebuilding the table.
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('context_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('summarize', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('summary', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('summary_token_end', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('summary_through_id', advanced_alchemy.types.GUID(length=16), nullable=True))
        batch_op.add_column(
            sa.Column('summary_updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('summary_requested_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        for column in (
            'summary_requested_at',
            'summary_updated_at',
            'summary_through_id',
            'summary_token_end',
            'summary',
            'summarize',
            'context_tokens',
        ):
            batch_op.drop_column(column)
