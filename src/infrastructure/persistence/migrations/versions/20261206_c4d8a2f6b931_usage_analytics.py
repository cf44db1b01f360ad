"""usage analytics: each model call's latency, time to first token, error and fallback; the daily rollup

Revision ID: c4d8a2f6b931
Revises: b8d4f0a2c6e1
Create Date: 2026-12-06 10:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = 'c4d8a2f6b931'
down_revision: str | None = 'b8d4f0a2c6e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (SQLite has them): batch mode would copy the largest table of all. Calls
    # recorded before this revision have no timing (left out of the percentiles) and count as
    # neither errors nor fallbacks.
    op.add_column('usage_record', sa.Column('latency_ms', sa.Integer(), nullable=True))
    op.add_column('usage_record', sa.Column('ttft_ms', sa.Integer(), nullable=True))
    op.add_column('usage_record', sa.Column('error_code', sa.String(length=100), nullable=True))
    op.add_column('usage_record', sa.Column('fallback', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('usage_daily',
    sa.Column('usage_date', sa.Date(), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('provider', sa.String(length=50), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('api_key_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cached_tokens', sa.BigInteger(), nullable=False),
    sa.Column('reasoning_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost_micros', sa.BigInteger(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('fallbacks', sa.Integer(), nullable=False),
    sa.Column('latency_histogram', sa.Text(), nullable=False),
    sa.Column('ttft_histogram', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_usage_daily_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('usage_date', 'user_id', 'provider', 'model', 'api_key_id', name=op.f('pk_usage_daily')),
    )
    # The calls recorded so far, rolled up (none of them was timed yet).
    nil_key = "'00000000-0000-0000-0000-000000000000'" if op.get_bind().dialect.name == 'postgresql' else "X'00000000000000000000000000000000'"
    op.execute(
        "INSERT INTO usage_daily (usage_date, user_id, provider, model, api_key_id, requests, input_tokens, "
        "output_tokens, cached_tokens, reasoning_tokens, cost_micros, errors, fallbacks, latency_histogram, "
        f"ttft_histogram) SELECT usage_date, user_id, provider, model, COALESCE(api_key_id, {nil_key}), count(*), "
        "sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(reasoning_tokens), sum(cost_micros), 0, 0, "
        "'{}', '{}' FROM usage_record GROUP BY usage_date, user_id, provider, model, COALESCE(api_key_id, "
        f"{nil_key})"
    )
    # Top spenders of a month read one month's totals, highest first.
    op.create_index('ix_usage_month_month_cost_micros', 'usage_month', ['month', 'cost_micros'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_usage_month_month_cost_micros', table_name='usage_month')
    op.drop_table('usage_daily')
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.drop_column('fallback')
        batch_op.drop_column('error_code')
        batch_op.drop_column('ttft_ms')
        batch_op.drop_column('latency_ms')
