"""rules held by the database

Three rules that the code keeps are now kept by the database as well, so that no writer (a retried
activity, two workers, a future code path) can break them, on SQLite and PostgreSQL alike:

- R8, one active counsellor per journey: a partial unique index on counsellorassignment(journey_id)
  where ended_at IS NULL;
- R18, one open exit procedure per journey: the new table exit_procedure, with a partial unique
  index on journey_id where status = 'open' (the procedure itself comes with its workflow);
- one completion per task: the new table task_completion, keyed by task_id, written by close_task in
  the transaction that closes the task; filled here from the tasks already closed.

Partial indexes: both backends support them (`sqlite_where` / `postgresql_where`, same condition).
A database where a journey already had two active assignments would refuse this upgrade (and be
left as it was, the migration being one transaction): no version of eaflow could write that.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 16:26:23.023775

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('exit_procedure',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('journey_id', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(), nullable=True),
    sa.Column('decision_reason', sa.String(), nullable=True),
    sa.CheckConstraint("(status = 'open') = (closed_at IS NULL)", name='ck_exit_procedure_closed_at'),
    sa.CheckConstraint("status IN ('open', 'approved', 'rejected', 'withdrawn')", name='ck_exit_procedure_status'),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exit_procedure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exit_procedure_journey_id'), ['journey_id'], unique=False)
        batch_op.create_index('uq_exit_procedure_open_journey', ['journey_id'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('task_completion',
    sa.Column('task_id', sa.String(), nullable=False),
    sa.Column('journey_id', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('outcome_hash', sa.String(), nullable=True),
    sa.Column('completed_by', sa.String(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('task_id')
    )
    with op.batch_alter_table('task_completion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_completion_journey_id'), ['journey_id'], unique=False)

    # Tasks closed before this revision: their completion, once.
    op.execute(
        "INSERT INTO task_completion (task_id, journey_id, status, outcome_hash, completed_by, completed_at) "
        "SELECT id, journey_id, status, outcome_hash, completed_by, COALESCE(completed_at, created_at) "
        "FROM task WHERE status <> 'open'"
    )

    with op.batch_alter_table('counsellorassignment', schema=None) as batch_op:
        batch_op.create_index('uq_counsellorassignment_active_journey', ['journey_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('counsellorassignment', schema=None) as batch_op:
        batch_op.drop_index('uq_counsellorassignment_active_journey', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    with op.batch_alter_table('task_completion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_completion_journey_id'))

    op.drop_table('task_completion')
    with op.batch_alter_table('exit_procedure', schema=None) as batch_op:
        batch_op.drop_index('uq_exit_procedure_open_journey', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_exit_procedure_journey_id'))

    op.drop_table('exit_procedure')
