"""chat: conversations, messages, usage, budgets

Revision ID: 9c3f2a6d8e12
Revises: 4b1e5d0c7a11
Create Date: 2026-11-22 05:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = '9c3f2a6d8e12'
down_revision: str | None = '4b1e5d0c7a11'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
