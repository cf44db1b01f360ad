"""usage_daily_model: each day's latency histograms per model (with an API key or without), the coarse
rollup of the analytics' percentiles; usage_daily indexed by user and by API key

Revision ID: d9e3b7a1c5f2
Revises: c4d8a2f6b931
Create Date: 2026-12-06 11:30:00+00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
import uuid

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import context, op

revision: str = 'd9e3b7a1c5f2'
down_revision: str | None = 'c4d8a2f6b931'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: usage_daily's api_key_id of the calls made without a key.
NO_KEY_ID = uuid.UUID(int=0)


def _merge(into: dict[str, int], histogram: str) -> None:
    for bucket, calls in json.loads(histogram or '{}').items():
        into[bucket] = into.get(bucket, 0) + int(calls)


def upgrade() -> None:
    table = op.create_table('usage_daily_model',
    sa.Column('usage_date', sa.Date(), nullable=False),
    sa.Column('provider', sa.String(length=50), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('with_api_key', sa.Boolean(), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('latency_histogram', sa.Text(), nullable=False),
    sa.Column('ttft_histogram', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('usage_date', 'provider', 'model', 'with_api_key', name=op.f('pk_usage_daily_model')),
    )
    # The histograms of the users or API keys a report lists, read from usage_daily.
    op.create_index('ix_usage_daily_user_id_usage_date', 'usage_daily', ['user_id', 'usage_date'], unique=False)
    op.create_index('ix_usage_daily_api_key_id_usage_date', 'usage_daily', ['api_key_id', 'usage_date'], unique=False)
    if context.is_offline_mode():
        # `parley db upgrade --sql` writes a script without reading data: the merge below needs the rows.
        op.execute(
            "-- usage_daily_model is not backfilled by an offline script: earlier days' percentiles by model "
            "stay empty unless this revision is run online (parley db upgrade)"
        )
        return
    # The days rolled up so far: usage_daily's rows merged per day and model (the same on both
    # databases: the histograms are JSON text).
    merged: dict[tuple[object, str, str, bool], tuple[list[int], dict[str, int], dict[str, int]]] = {}
    rows = op.get_bind().execute(
        sa.select(
            sa.column('usage_date'), sa.column('provider'), sa.column('model'),
            sa.column('api_key_id', advanced_alchemy.types.GUID(length=16)), sa.column('requests'),
            sa.column('latency_histogram'), sa.column('ttft_histogram'),
        ).select_from(sa.table('usage_daily'))
    )
    for day, provider, model, api_key_id, requests, latency, ttft in rows:
        with_key = api_key_id != NO_KEY_ID
        requests_seen, latencies, ttfts = merged.setdefault((day, provider, model, with_key), ([0], {}, {}))
        requests_seen[0] += int(requests)
        _merge(latencies, latency)
        _merge(ttfts, ttft)
    if merged:
        op.bulk_insert(table, [
            {'usage_date': day if isinstance(day, date) else date.fromisoformat(str(day)[:10]), 'provider': provider,
             'model': model, 'with_api_key': with_key, 'requests': requests_seen[0], 'latency_histogram': json.dumps(latencies),
             'ttft_histogram': json.dumps(ttfts)}
            for (day, provider, model, with_key), (requests_seen, latencies, ttfts) in merged.items()
        ])


def downgrade() -> None:
    op.drop_index('ix_usage_daily_api_key_id_usage_date', table_name='usage_daily')
    op.drop_index('ix_usage_daily_user_id_usage_date', table_name='usage_daily')
    op.drop_table('usage_daily_model')
