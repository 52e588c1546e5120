"""The audit trail's one permitted change: the redaction of a closed file's free texts (R22)

An audit row's `detail` may hold what a person said or what was written about them (a task's
outcome, a note, an exit's analysis). Once the file's retention has run out, the anonymisation
(services/personal_data.py) must remove those words, and the trail must still say who did what and
when. So the append-only trigger of 0015 now lets one UPDATE through per row: setting `redacted_at`
(from NULL) and `detail`, every other column unchanged. Anything else is still refused, and a row
once redacted can never change again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 17:15:00

Written for SQLite and PostgreSQL alike.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: Union[str, Sequence[str], None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REFUSAL = "R22: the audit trail is append-only"
KEPT = "OLD.journey_id IS NULL OR EXISTS (SELECT 1 FROM journey WHERE journey.id = OLD.journey_id)"
# The one UPDATE let through: a redaction, once, that changes nothing but `detail` and `redacted_at`.
REDACTION = ("OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL AND NEW.id = OLD.id "
             "AND NEW.journey_id IS NOT DISTINCT FROM OLD.journey_id AND NEW.at = OLD.at "
             "AND NEW.actor_kind = OLD.actor_kind AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id "
             "AND NEW.action = OLD.action AND NEW.step_key IS NOT DISTINCT FROM OLD.step_key")


def _sqlite(condition: str) -> str:
    return condition.replace("IS NOT DISTINCT FROM", "IS")


def _triggers(redaction_allowed: bool) -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS auditevent_no_update")
        op.execute("DROP TRIGGER IF EXISTS auditevent_no_delete")
        when = f" WHEN NOT ({_sqlite(REDACTION)})" if redaction_allowed else ""
        op.execute(f"CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON auditevent{when} "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")
        op.execute(f"CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON auditevent WHEN {KEPT} "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")
        return
    update = f"IF TG_OP = 'UPDATE' AND ({REDACTION}) THEN RETURN NEW; END IF;" if redaction_allowed else ""
    op.execute(f"""
        CREATE OR REPLACE FUNCTION auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND NOT ({KEPT}) THEN
                RETURN OLD;
            END IF;
            {update}
            RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""")


def upgrade() -> None:
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redacted_at', sa.DateTime(timezone=True), nullable=True))
    _triggers(redaction_allowed=True)


def downgrade() -> None:
    _triggers(redaction_allowed=False)
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER auditevent_no_update")
        op.execute("DROP TRIGGER auditevent_no_delete")
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.drop_column('redacted_at')
    if op.get_context().dialect.name == "sqlite":  # the rebuilt table lost them: as 0015 left them
        _triggers(redaction_allowed=False)
