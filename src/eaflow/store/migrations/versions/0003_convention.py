"""convention

The convention individuelle d'accompagnement (R10; eaflow/store/convention.py): one `convention` per
journey, its versions (`convention_version`: content, HTML, PDF, hash; a re-draft supersedes), the
parties of each version, their answers (`signature`, at most one accepted per party: a partial
unique index, as in 0002) and the personal signing links (`signing_token`, single use).
New tables only: nothing to fill, nothing existing altered.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:49:45.616106

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('convention',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('journey_id', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('current_version_id', sa.String(), nullable=True),
    sa.Column('signed_version_id', sa.String(), nullable=True),
    sa.Column('signed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('journey_id', name='uq_convention_journey_id')
    )
    op.create_table('convention_version',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('convention_id', sa.String(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('content_hash', sa.String(), nullable=False),
    sa.Column('drafted_by', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('signed_pdf_hash', sa.String(), nullable=True),
    sa.CheckConstraint("status IN ('signing', 'refused', 'superseded', 'signed')", name='ck_convention_version_status'),
    sa.ForeignKeyConstraint(['convention_id'], ['convention.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('convention_id', 'number', name='uq_convention_version_number')
    )
    with op.batch_alter_table('convention_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_convention_version_convention_id'), ['convention_id'], unique=False)

    op.create_table('convention_party',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('version_id', sa.String(), nullable=False),
    sa.Column('convention_id', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('signatory_name', sa.String(), nullable=False),
    sa.Column('signatory_quality', sa.String(), nullable=True),
    sa.Column('email', sa.String(), nullable=True),
    sa.Column('signs_by', sa.String(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['convention_id'], ['convention.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['convention_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'role', name='uq_convention_party_role')
    )
    with op.batch_alter_table('convention_party', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_convention_party_convention_id'), ['convention_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_convention_party_version_id'), ['version_id'], unique=False)

    op.create_table('signature',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('convention_id', sa.String(), nullable=False),
    sa.Column('version_id', sa.String(), nullable=False),
    sa.Column('party_id', sa.String(), nullable=False),
    sa.Column('decision', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('signer_name', sa.String(), nullable=False),
    sa.Column('via', sa.String(), nullable=False),
    sa.Column('user_id', sa.String(), nullable=True),
    sa.Column('token_id', sa.String(), nullable=True),
    sa.Column('ip', sa.String(), nullable=True),
    sa.Column('user_agent', sa.String(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('signed', 'refused')", name='ck_signature_decision'),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name='ck_signature_status'),
    sa.ForeignKeyConstraint(['convention_id'], ['convention.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['convention_party.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['convention_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_convention_id'), ['convention_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_version_id'), ['version_id'], unique=False)
        batch_op.create_index('uq_signature_accepted_party', ['party_id'], unique=True, sqlite_where=sa.text("status = 'accepted'"), postgresql_where=sa.text("status = 'accepted'"))

    op.create_table('signing_token',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('convention_id', sa.String(), nullable=False),
    sa.Column('version_id', sa.String(), nullable=False),
    sa.Column('party_id', sa.String(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['convention_id'], ['convention.id'], ),
    sa.ForeignKeyConstraint(['party_id'], ['convention_party.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['convention_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_signing_token_key')
    )
    with op.batch_alter_table('signing_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_token_convention_id'), ['convention_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_token_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_token_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signing_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_token_version_id'))
        batch_op.drop_index(batch_op.f('ix_signing_token_party_id'))
        batch_op.drop_index(batch_op.f('ix_signing_token_convention_id'))

    op.drop_table('signing_token')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('uq_signature_accepted_party', sqlite_where=sa.text("status = 'accepted'"), postgresql_where=sa.text("status = 'accepted'"))
        batch_op.drop_index(batch_op.f('ix_signature_version_id'))
        batch_op.drop_index(batch_op.f('ix_signature_party_id'))
        batch_op.drop_index(batch_op.f('ix_signature_convention_id'))

    op.drop_table('signature')
    with op.batch_alter_table('convention_party', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_convention_party_version_id'))
        batch_op.drop_index(batch_op.f('ix_convention_party_convention_id'))

    op.drop_table('convention_party')
    with op.batch_alter_table('convention_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_convention_version_convention_id'))

    op.drop_table('convention_version')
    op.drop_table('convention')
