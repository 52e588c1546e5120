"""password links, mail preferences, the audit of administrators' actions

A password link (/mot-de-passe/<token>) is stored as the SHA-256 of its token, valid for
`[accounts] password_link_validity`, closed once used, replaced or when the account is disabled
(eaflow/services/password_links.py). A mail preference holds the kinds of mail a member of the staff
turned off and whether they read their tasks in the weekly digest instead (eaflow/services/
preferences.py). An administrator's action concerns no journey: `auditevent.journey_id` may be NULL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:08:06.546050

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('mail_preference',
    sa.Column('user_id', sa.String(), nullable=False),
    sa.Column('muted_kinds', sa.JSON(), nullable=False),
    sa.Column('digest_instead', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('password_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(), nullable=False),
    sa.Column('user_id', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_how', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash', name='uq_password_link_token_hash')
    )
    with op.batch_alter_table('password_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_link_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.alter_column('journey_id',
               existing_type=sa.VARCHAR(),
               nullable=True)


def downgrade() -> None:
    # The administrators' actions have no journey: they cannot stay in a column that requires one.
    op.execute("DELETE FROM auditevent WHERE journey_id IS NULL")
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.alter_column('journey_id',
               existing_type=sa.VARCHAR(),
               nullable=False)

    with op.batch_alter_table('password_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_link_user_id'))

    op.drop_table('password_link')
    op.drop_table('mail_preference')
