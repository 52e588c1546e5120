"""The audit trail is append-only (R21, R22): the database refuses to change or remove its rows.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 16:43:22.665345

A trigger on `auditevent` refuses every UPDATE (and, on PostgreSQL, TRUNCATE) and every DELETE but
one: the rows of a journey that no longer exists. That is the compensation of an intake whose
workflow could not start (services/journeys.py `_forget`: the person, then the journey, then its
rows, in one transaction, so that "rien n'a été enregistré" holds and the retry with the same
Idempotency-Key can write them again). The anonymisation of closed files (services/personal_data.py)
keeps the journey row, so its trail stays untouchable.

SQLite drops a table's triggers with the table: a later `batch_alter_table('auditevent')`, which
rebuilds it on SQLite, must create them again (`create_sqlite_triggers`).
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REFUSAL = "R22: the audit trail is append-only"
# The one DELETE allowed: a row whose journey is gone (a failed start, compensated).
KEPT = "OLD.journey_id IS NULL OR EXISTS (SELECT 1 FROM journey WHERE journey.id = OLD.journey_id)"


def create_sqlite_triggers() -> None:
    op.execute(f"CREATE TRIGGER auditevent_no_update BEFORE UPDATE ON auditevent "
               f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")
    op.execute(f"CREATE TRIGGER auditevent_no_delete BEFORE DELETE ON auditevent WHEN {KEPT} "
               f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        create_sqlite_triggers()
        return
    op.execute(f"""
        CREATE FUNCTION auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND NOT ({KEPT}) THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'integrity_constraint_violation';
        END $$""")
    op.execute("CREATE TRIGGER auditevent_append_only BEFORE UPDATE OR DELETE ON auditevent "
               "FOR EACH ROW EXECUTE FUNCTION auditevent_append_only()")
    op.execute("CREATE TRIGGER auditevent_no_truncate BEFORE TRUNCATE ON auditevent "
               "FOR EACH STATEMENT EXECUTE FUNCTION auditevent_append_only()")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER auditevent_no_delete")
        op.execute("DROP TRIGGER auditevent_no_update")
        return
    op.execute("DROP TRIGGER auditevent_no_truncate ON auditevent")
    op.execute("DROP TRIGGER auditevent_append_only ON auditevent")
    op.execute("DROP FUNCTION auditevent_append_only()")
