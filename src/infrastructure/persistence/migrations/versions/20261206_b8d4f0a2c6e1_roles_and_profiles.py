"""identity: four roles (every member becomes a creator); a profile's bio and avatar

Revision ID: b8d4f0a2c6e1
Revises: c4d8e2f61a93
Create Date: 2026-12-06 10:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b8d4f0a2c6e1'
down_revision: str | None = 'c4d8e2f61a93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bio', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('avatar_version', sa.String(length=64), nullable=True))
    # Members could publish and generate: creators keep exactly that. Sessions go on: the role is read
    # from the account on every request, and tokens issued as ``member`` still parse (Role.from_issued).
    op.execute("UPDATE user_account SET role = 'creator' WHERE role = 'member'")


def downgrade() -> None:
    # The old code knows two roles: creators and viewers were members, moderators are demoted too.
    op.execute("UPDATE user_account SET role = 'member' WHERE role IN ('creator', 'viewer', 'moderator')")
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('avatar_version')
        batch_op.drop_column('bio')
