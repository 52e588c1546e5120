"""journey anonymised_at: when a closed file's personal data was anonymised after the retention (R22)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:29:05.236186

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('journey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('journey', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
