"""report snapshots: immutable quarterly reports (R20, issue 13)

A snapshot is never changed: a correction is a new version (store/reports.py). Triggers refuse every
UPDATE and DELETE of `report_snapshot` (and TRUNCATE on PostgreSQL). SQLite drops a table's triggers
with the table: a later `batch_alter_table('report_snapshot')` must create them again
(`create_sqlite_triggers`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 17:04:23.058256

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REFUSAL = "R20: a report snapshot is immutable; store a new version"


def create_sqlite_triggers() -> None:
    for event in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER report_snapshot_no_{event.lower()} BEFORE {event} ON report_snapshot "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def create_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        create_sqlite_triggers()
        return
    op.execute(f"""
        CREATE FUNCTION report_snapshot_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""")
    op.execute("CREATE TRIGGER report_snapshot_immutable BEFORE UPDATE OR DELETE ON report_snapshot "
               "FOR EACH ROW EXECUTE FUNCTION report_snapshot_immutable()")
    op.execute("CREATE TRIGGER report_snapshot_no_truncate BEFORE TRUNCATE ON report_snapshot "
               "FOR EACH STATEMENT EXECUTE FUNCTION report_snapshot_immutable()")


def drop_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER report_snapshot_no_delete")
        op.execute("DROP TRIGGER report_snapshot_no_update")
        return
    op.execute("DROP TRIGGER report_snapshot_no_truncate ON report_snapshot")
    op.execute("DROP TRIGGER report_snapshot_immutable ON report_snapshot")
    op.execute("DROP FUNCTION report_snapshot_immutable()")


def upgrade() -> None:
    op.create_table('report_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.String(), nullable=False),
    sa.Column('operator_id', sa.String(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['report_snapshot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_snapshot_platform_id'), ['platform_id'], unique=False)
        batch_op.create_index('uq_report_snapshot_operator_version', ['platform_id', 'operator_id', 'period_start', 'period_end', 'version'], unique=True, sqlite_where=sa.text('operator_id IS NOT NULL'), postgresql_where=sa.text('operator_id IS NOT NULL'))
        batch_op.create_index('uq_report_snapshot_platform_version', ['platform_id', 'period_start', 'period_end', 'version'], unique=True, sqlite_where=sa.text('operator_id IS NULL'), postgresql_where=sa.text('operator_id IS NULL'))
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    with op.batch_alter_table('report_snapshot', schema=None) as batch_op:
        batch_op.drop_index('uq_report_snapshot_platform_version', sqlite_where=sa.text('operator_id IS NULL'), postgresql_where=sa.text('operator_id IS NULL'))
        batch_op.drop_index('uq_report_snapshot_operator_version', sqlite_where=sa.text('operator_id IS NOT NULL'), postgresql_where=sa.text('operator_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_report_snapshot_platform_id'))

    op.drop_table('report_snapshot')
