"""admin: the audit log (audit_events), members' reports (content_reports), resolutions of the
moderation queue, hidden articles

Revision ID: c4d8e2f61a93
Revises: c4d8e2a6f1b3
Create Date: 2026-12-06 10:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c4d8e2f61a93'
down_revision: str | None = 'c4d8e2a6f1b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL: the audit log is append-only. UPDATE is always refused; DELETE only in a transaction
# that said it is the retention prune (SET LOCAL parley.audit_prune = 'on', admin_repositories.py).
# TRUNCATE is refused too. A superuser can still drop the trigger: this stops mistakes and code
# paths, and leaves a trace in the schema if someone removes it.
_PG_APPEND_ONLY = (
    """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('parley.audit_prune', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
""",
    """
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
""",
)
# SQLite has no session settings for the prune to raise: UPDATE is refused there, DELETE is left
# to the one repository method that deletes (the prune).
_SQLITE_APPEND_ONLY = """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)');
END
"""


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('actor_id', advanced_alchemy.types.GUID(length=16), nullable=True),
    sa.Column('actor_ip', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('target_type', sa.String(length=30), nullable=False),
    sa.Column('target_id', sa.String(length=100), nullable=True),
    sa.Column('data', _json(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    op.create_index('ix_audit_events_actor_id_id', 'audit_events', ['actor_id', 'id'], unique=False)
    op.create_index('ix_audit_events_action_id', 'audit_events', ['action', 'id'], unique=False)
    op.create_index('ix_audit_events_target_id_id', 'audit_events', ['target_id', 'id'], unique=False)
    op.create_index('ix_audit_events_at', 'audit_events', ['at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for statement in _PG_APPEND_ONLY:
            op.execute(statement)
    else:
        op.execute(_SQLITE_APPEND_ONLY)

    op.create_table('content_reports',
    sa.Column('id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('reporter_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', advanced_alchemy.types.GUID(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reporter_id'], ['user_account.id'], name=op.f('fk_content_reports_reporter_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_reports')),
    sa.UniqueConstraint('reporter_id', 'kind', 'target_id', name='uq_content_reports_reporter_id_kind_target_id'),
    )
    op.create_index('ix_content_reports_kind_target_id', 'content_reports', ['kind', 'target_id'], unique=False)

    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('resolution', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', advanced_alchemy.types.GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))
        batch_op.create_index('ix_moderation_items_status_id', ['status', 'id'], unique=False)

    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_at', advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('hidden_at')

    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_items_status_id')
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('resolution')
        batch_op.drop_column('report_count')

    op.drop_index('ix_content_reports_kind_target_id', table_name='content_reports')
    op.drop_table('content_reports')

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events')
        op.execute('DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events')
        op.execute('DROP FUNCTION IF EXISTS audit_events_append_only()')
    op.drop_index('ix_audit_events_at', table_name='audit_events')
    op.drop_index('ix_audit_events_target_id_id', table_name='audit_events')
    op.drop_index('ix_audit_events_action_id', table_name='audit_events')
    op.drop_index('ix_audit_events_actor_id_id', table_name='audit_events')
    op.drop_table('audit_events')
