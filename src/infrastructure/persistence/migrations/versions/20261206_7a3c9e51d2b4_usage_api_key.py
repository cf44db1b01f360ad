"""usage: the API key a call was made with (the OpenAI-compatible gateway)

Revision ID: 7a3c9e51d2b4
Revises: 9c3f2a6d8e12
Create Date: 2026-12-06 07:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = '7a3c9e51d2b4'
down_revision: str | None = '9c3f2a6d8e12'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no foreign key: a call made with a key stays counted after the key is deleted.
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_key_id', advanced_alchemy.types.GUID(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.drop_column('api_key_id')
