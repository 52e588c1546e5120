"""public link attempts: what the abuse limits of the public links count (issue 15)

One row per request to a public link page (a convention's signature link, a password link), valid
link or not, from which address, to which link (SHA-256 of its kind and path, never the token in
clear). services/limits.py counts them per address and per link within the windows of `[limits]`,
refuses past them (429), and prunes the rows older than the longest window. Kept in the database so
that the limits hold across every API process.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 19:05:00

Written for SQLite and PostgreSQL alike.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: Union[str, Sequence[str], None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('public_link_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('address', sa.String(), nullable=False),
    sa.Column('link_hash', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('public_link_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_public_link_attempt_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_public_link_attempt_at', ['at'], unique=False)
        batch_op.create_index('ix_public_link_attempt_link_at', ['link_hash', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('public_link_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_public_link_attempt_link_at')
        batch_op.drop_index('ix_public_link_attempt_at')
        batch_op.drop_index('ix_public_link_attempt_address_at')
    op.drop_table('public_link_attempt')
