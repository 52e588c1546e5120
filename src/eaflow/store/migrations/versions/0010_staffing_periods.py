"""staffing periods: each account's role, FTE and active flag over time (R7, R20)

The indicators of a past quarter read the staff as it stood then (issue 14, item 4). Every existing
account opens its first period with what it holds today, from its creation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('staffing_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('fte', sa.Float(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staffing_period', schema=None) as batch_op:
        batch_op.create_index('ix_staffing_period_user_since', ['user_id', 'since'], unique=False)
    op.execute('INSERT INTO staffing_period (user_id, since, role, fte, active) '
               'SELECT id, created_at, role, fte, active FROM "user"')


def downgrade() -> None:
    with op.batch_alter_table('staffing_period', schema=None) as batch_op:
        batch_op.drop_index('ix_staffing_period_user_since')
    op.drop_table('staffing_period')
