"""notifications: the event bus's processed events, the inbox, preferences, pending and sent e-mail

Revision ID: a7c3e9f1b2d4
Revises: 5e7a1c9d2b40
Create Date: 2026-12-06 07:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'a7c3e9f1b2d4'
down_revision: str | None = '5e7a1c9d2b40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _audit() -> list[sa.Column]:
    return [
        sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
        sa.Column('created_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column('updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('processed_event',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('event_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('handler', sa.String(length=100), nullable=False),
    sa.Column('processed_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    *_audit(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processed_event')),
    sa.UniqueConstraint('event_id', 'handler', name='uq_processed_event_event_id_handler'),
    )
    op.create_index('ix_processed_event_processed_at', 'processed_event', ['processed_at'], unique=False)

    op.create_table('notification',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', _JSON, nullable=False),
    sa.Column('read_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    *_audit(),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('user_id', 'dedupe_key', name='uq_notification_user_id_dedupe_key'),
    )
    op.create_index('ix_notification_user_id_id', 'notification', ['user_id', 'id'], unique=False)
    op.create_index('ix_notification_user_id_read_at', 'notification', ['user_id', 'read_at'], unique=False)
    op.create_index('ix_notification_read_at', 'notification', ['read_at'], unique=False)

    op.create_table('notification_preference',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('in_app', sa.Boolean(), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    *_audit(),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_preference_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preference')),
    sa.UniqueConstraint('user_id', 'category', name='uq_notification_preference_user_id_category'),
    )

    op.create_table('pending_email',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sent_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sent_email_id', advanced_alchemy.types.GUID(length=16), nullable=True),
    *_audit(),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_pending_email_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_email')),
    )
    op.create_index('ix_pending_email_sent_at_user_id_category', 'pending_email', ['sent_at', 'user_id', 'category'], unique=False)

    op.create_table('sent_email',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.GUID(length=16), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('headers', _JSON, nullable=False),
    sa.Column('transport', sa.String(length=20), nullable=False),
    *_audit(),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sent_email_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_email')),
    )
    op.create_index('ix_sent_email_user_id_category_created_at', 'sent_email', ['user_id', 'category', 'created_at'], unique=False)
    op.create_index('ix_sent_email_created_at', 'sent_email', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sent_email_created_at', table_name='sent_email')
    op.drop_index('ix_sent_email_user_id_category_created_at', table_name='sent_email')
    op.drop_table('sent_email')
    op.drop_index('ix_pending_email_sent_at_user_id_category', table_name='pending_email')
    op.drop_table('pending_email')
    op.drop_table('notification_preference')
    op.drop_index('ix_notification_read_at', table_name='notification')
    op.drop_index('ix_notification_user_id_read_at', table_name='notification')
    op.drop_index('ix_notification_user_id_id', table_name='notification')
    op.drop_table('notification')
    op.drop_index('ix_processed_event_processed_at', table_name='processed_event')
    op.drop_table('processed_event')
