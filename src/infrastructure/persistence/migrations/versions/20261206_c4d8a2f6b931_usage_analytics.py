"""usage analytics: latency, time to first token, error and fallback of each model call; a day index

Revision ID: c4d8a2f6b931
Revises: a7c3e9f1b2d4
Create Date: 2026-12-06 10:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c4d8a2f6b931'
down_revision: str | None = 'a7c3e9f1b2d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Calls recorded before this revision have no latency (NULL: left out of the percentiles) and
    # count as neither errors nor fallbacks.
    # Plain ADD COLUMNs (SQLite has them): batch mode would copy the table, and the largest table
    # of all with it.
    op.add_column('usage_record', sa.Column('latency_ms', sa.Integer(), nullable=True))
    op.add_column('usage_record', sa.Column('ttft_ms', sa.Integer(), nullable=True))
    op.add_column('usage_record', sa.Column('error_code', sa.String(length=100), nullable=True))
    op.add_column('usage_record', sa.Column('fallback', sa.Boolean(), server_default=sa.false(), nullable=False))
    # The admin analytics read a range of days across every user.
    op.create_index('ix_usage_record_usage_date', 'usage_record', ['usage_date'], unique=False)
    # Top spenders of a month read one month's totals, highest first.
    op.create_index('ix_usage_month_month_cost_micros', 'usage_month', ['month', 'cost_micros'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_usage_month_month_cost_micros', table_name='usage_month')
    op.drop_index('ix_usage_record_usage_date', table_name='usage_record')
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.drop_column('fallback')
        batch_op.drop_column('error_code')
        batch_op.drop_column('ttft_ms')
        batch_op.drop_column('latency_ms')
