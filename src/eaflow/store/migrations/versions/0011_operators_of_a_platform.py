"""operators of a platform: the co-porteurs under a chef de file (issue 13)

Counsellors and managers belong to an operator; indicators come per operator and for the whole
platform. Every existing platform gets one operator, its chef de file, named after the platform's
`operator` text (or its name), and every counsellor and manager of the platform joins it: today's
data keeps its meaning (one operator per platform).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:56:01

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('operator',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('platform_id', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('is_lead', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_platform_id'), ['platform_id'], unique=False)
        batch_op.create_index('uq_operator_lead_per_platform', ['platform_id'], unique=True,
                              sqlite_where=sa.text('is_lead'), postgresql_where=sa.text('is_lead'))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operator_id', sa.String(), nullable=True))
        batch_op.create_index(batch_op.f('ix_user_operator_id'), ['operator_id'], unique=False)
        batch_op.create_foreign_key('fk_user_operator_id_operator', 'operator', ['operator_id'], ['id'])

    with op.batch_alter_table('staffing_period', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operator_id', sa.String(), nullable=True))

    op.execute("INSERT INTO operator (id, platform_id, name, is_lead, created_at) "
               "SELECT 'op-' || substr(id, 4), id, COALESCE(NULLIF(operator, ''), name), true, created_at "
               "FROM platform")
    op.execute("UPDATE \"user\" SET operator_id = 'op-' || substr(platform_id, 4) "
               "WHERE platform_id IS NOT NULL AND role IN ('counsellor', 'manager')")
    op.execute("UPDATE staffing_period SET operator_id = "
               "(SELECT operator_id FROM \"user\" WHERE \"user\".id = staffing_period.user_id)")


def downgrade() -> None:
    with op.batch_alter_table('staffing_period', schema=None) as batch_op:
        batch_op.drop_column('operator_id')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint('fk_user_operator_id_operator', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_user_operator_id'))
        batch_op.drop_column('operator_id')

    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.drop_index('uq_operator_lead_per_platform')
        batch_op.drop_index(batch_op.f('ix_operator_platform_id'))

    op.drop_table('operator')
