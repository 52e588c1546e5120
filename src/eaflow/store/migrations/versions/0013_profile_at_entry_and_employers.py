"""profile at entry and employers for the indicators (R20 §V.A.6 3° and 4°): the shared evaluation
records the nature of the disability, the time without employment before entry, the lifetime in
employment, the initial education level, the status at entry and the medico-social support; an
employment episode its employer's NAF section and size band. Every column is nullable (not recorded):
the rows already there stay as they are. The closed lists are copied here (eaflow.profile), as they
stood when this migration was written.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:29:49.535331

Written for SQLite and PostgreSQL alike: keep table changes inside `op.batch_alter_table(...)`
(SQLite rebuilds the table; PostgreSQL runs plain ALTERs), and name every new constraint.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DISABILITY_NATURES = ('psychique', 'tsa', 'tdi', 'cognitif', 'sensoriel', 'moteur', 'multiple', 'autre')
EDUCATION_LEVELS = ('below_3', 'level_3', 'level_4', 'level_5', 'level_6', 'level_7', 'level_8')
STATUSES_AT_ENTRY = ('job_seeker', 'esat_worker', 'employee', 'self_employed', 'student', 'inactive', 'other')
NAF_SECTIONS = tuple('ABCDEFGHIJKLMNOPQRSTU')
SIZE_BANDS = ('0_9', '10_49', '50_249', '250_4999', '5000_plus')


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table('employment_episode', schema=None) as batch_op:
        batch_op.add_column(sa.Column('employer_naf_section', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('employer_size_band', sa.String(), nullable=True))
        batch_op.create_check_constraint('ck_employment_episode_employer_naf_section',
                                         _one_of('employer_naf_section', NAF_SECTIONS))
        batch_op.create_check_constraint('ck_employment_episode_employer_size_band',
                                         _one_of('employer_size_band', SIZE_BANDS))

    with op.batch_alter_table('sharedevaluation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disability_nature', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('months_without_employment', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lifetime_employment_years', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('education_level', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('status_at_entry', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('medico_social_support', sa.JSON(), nullable=True))
        batch_op.create_check_constraint('ck_sharedevaluation_disability_nature',
                                         _one_of('disability_nature', DISABILITY_NATURES))
        batch_op.create_check_constraint('ck_sharedevaluation_education_level',
                                         _one_of('education_level', EDUCATION_LEVELS))
        batch_op.create_check_constraint('ck_sharedevaluation_status_at_entry',
                                         _one_of('status_at_entry', STATUSES_AT_ENTRY))
        batch_op.create_check_constraint('ck_sharedevaluation_months_without_employment',
                                         'months_without_employment >= 0')
        batch_op.create_check_constraint('ck_sharedevaluation_lifetime_employment_years',
                                         'lifetime_employment_years >= 0')


def downgrade() -> None:
    with op.batch_alter_table('sharedevaluation', schema=None) as batch_op:
        for name in ('lifetime_employment_years', 'months_without_employment', 'status_at_entry',
                     'education_level', 'disability_nature'):
            batch_op.drop_constraint(f'ck_sharedevaluation_{name}', type_='check')
        batch_op.drop_column('medico_social_support')
        batch_op.drop_column('status_at_entry')
        batch_op.drop_column('education_level')
        batch_op.drop_column('lifetime_employment_years')
        batch_op.drop_column('months_without_employment')
        batch_op.drop_column('disability_nature')

    with op.batch_alter_table('employment_episode', schema=None) as batch_op:
        batch_op.drop_constraint('ck_employment_episode_employer_size_band', type_='check')
        batch_op.drop_constraint('ck_employment_episode_employer_naf_section', type_='check')
        batch_op.drop_column('employer_size_band')
        batch_op.drop_column('employer_naf_section')
