"""ai: the moderation queue (moderation_items)

Revision ID: 5e7a1c9d2b40
Revises: 7a3c9e51d2b4
Create Date: 2026-12-06 07:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '5e7a1c9d2b40'
down_revision: str | None = '7a3c9e51d2b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    # Flagged messages, replies and passages wait here for review (the admin console lists and
    # resolves them); user_id is kept as NULL when the user is deleted: the item stays reviewable.
    op.create_table('moderation_items',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('user_id', advanced_alchemy.types.GUID(length=16), nullable=True),
    sa.Column('reasons', _json(), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('open', 'resolved')", name=op.f('ck_moderation_items_status_known')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_moderation_items_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_items'))
    )
    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_items_kind_target_id', ['kind', 'target_id'], unique=False)
        batch_op.create_index('ix_moderation_items_status_created_at', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_items_status_created_at')
        batch_op.drop_index('ix_moderation_items_kind_target_id')
    op.drop_table('moderation_items')
