"""The clinic records database (RECORDS_DB_URL): escalations and their deliveries, SMS opt-outs and
offered choices, appointments and outreach.

Its whole schema is here, and each process opens it once: `engine(url)` gives the one engine per
URL (pooled connections, every table created if missing, a SQLite file's directory made), so the
stores (escalations, sms_state, appointments) are cheap views on it and nothing needs resetting
between tests that use different URLs. One timestamp format for its records.
"""
import time
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

escalations = sa.Table(
    "escalations", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("symptoms", sa.Text, nullable=False),  # JSON list of labels
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("recent_turns", sa.Text, nullable=False),  # JSON list of {"speaker", "text"}
)

escalation_deliveries = sa.Table(
    "escalation_deliveries", metadata,
    sa.Column("escalation_id", sa.String(32), sa.ForeignKey("escalations.id"), primary_key=True),
    sa.Column("target", sa.String(32), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    # A worker holds a delivery until this time; another worker may take it over afterwards.
    sa.Column("claimed_until", sa.Float, nullable=False, default=0.0),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.String(40)),
)

# Notes added to an escalation after the fact, e.g. that the patient had the conversation deleted.
escalation_notes = sa.Table(
    "escalation_notes", metadata,
    sa.Column("escalation_id", sa.String(32), sa.ForeignKey("escalations.id"), nullable=False, index=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)

sms_opt_outs = sa.Table(
    "sms_opt_outs", metadata,
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("opted_out_at", sa.String(40), nullable=False),
    sa.Column("keyword", sa.String(16), nullable=False),
)

sms_offered_choices = sa.Table(
    "sms_offered_choices", metadata,
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("choices", sa.Text, nullable=False),  # JSON {"1": payload, ...}
)

appointments = sa.Table(
    "appointments", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("phone", sa.String(32), nullable=False, index=True),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("starts_at", sa.String(40), nullable=False),  # ISO 8601 with offset
    sa.Column("treatment_type", sa.String(16), nullable=False),
    # The outreach messages' language (en | es). Nullable: rows from before it existed have none.
    sa.Column("language", sa.String(8)),
)

outreach_sent = sa.Table(
    "outreach_sent", metadata,
    sa.Column("appointment_key", sa.String(64), primary_key=True),
    # invite, or a check-in: follow_up (the one the day after the visit), check_in_7d, check_in_14d...
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # sending | sent
    sa.Column("at", sa.String(40), nullable=False),
)

# The notice that texts are not encrypted and how to stop them, sent before the first outreach
# message to a number: one row per number, so it goes once whatever the message and however many
# appointments or runs. Claimed (sending) before it is sent, like outreach_sent; a new table, so an
# existing database gets it from create_all.
outreach_notices = sa.Table(
    "outreach_notices", metadata,
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),  # sending | sent
    sa.Column("at", sa.String(40), nullable=False),  # when it was sent (claimed, while sending)
    # The outreach message it went before: its appointment and kind (as in outreach_sent).
    sa.Column("appointment_key", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("notice", sa.Text, nullable=False),  # the notice as sent
)

# The clinician side (the staff inbox, commands/clinicians.py, the escalation policy, human handoff).
clinicians = sa.Table(
    "clinicians", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2, never the password
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)

# What happened to an escalation after it was recorded, oldest first: paged, acknowledged, replied,
# resolved... Append-only: the app has no way to change a row, and the database refuses to.
# An escalation's state is its latest state-changing event (new when there is none).
escalation_events = sa.Table(
    "escalation_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("escalation_id", sa.String(32), sa.ForeignKey("escalations.id"), nullable=False, index=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),  # a clinician's username, or "system"
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),  # JSON: outcome, note, who was paged
)

# A conversation a clinician has taken over: while a row exists the assistant does not answer in it
# (red flags still escalate). Closing the conversation deletes the row; the audit log keeps both.
conversation_holds = sa.Table(
    "conversation_holds", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("held_by", sa.String(64), nullable=False),
    sa.Column("since", sa.String(40), nullable=False),
    sa.Column("escalation_id", sa.String(32)),
)

# Messages a clinician wrote to a patient, delivered on the conversation's own channel.
clinician_messages = sa.Table(
    "clinician_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("clinician", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("escalation_id", sa.String(32)),
    sa.Column("delivered_at", sa.String(40)),  # null until it reached the patient
    # A process delivering it holds it until this time (epoch seconds); if it dies meanwhile, the
    # message is taken again afterwards: delivered at least once, never lost.
    sa.Column("claimed_until", sa.Float, nullable=False, default=0.0),
)

# An escalation is acknowledged once and resolved once: of two clinicians clicking at the same
# moment, the second insert fails instead of writing a second "acknowledged" row.
sa.Index("escalation_events_once", escalation_events.c.escalation_id, escalation_events.c.action, unique=True,
         sqlite_where=escalation_events.c.action.in_(("acknowledged", "resolved")),
         postgresql_where=escalation_events.c.action.in_(("acknowledged", "resolved")))

# The audit log is append-only in the database itself, not only in the app: any UPDATE or DELETE of
# escalation_events fails. Run after every create_all and idempotent, so that a database whose table
# was created before the guard existed gets it too.
_SQLITE_AUDIT_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS escalation_events_no_{verb.lower()} BEFORE {verb} ON escalation_events "
    f"BEGIN SELECT RAISE(ABORT, 'escalation_events is append-only'); END" for verb in ("UPDATE", "DELETE")]
_POSTGRESQL_AUDIT_GUARD = """
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'escalation_events_append_only'
                     AND tgrelid = 'escalation_events'::regclass) THEN
        CREATE OR REPLACE FUNCTION escalation_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
          $body$ BEGIN RAISE EXCEPTION 'escalation_events is append-only'; END $body$;
        CREATE TRIGGER escalation_events_append_only BEFORE UPDATE OR DELETE ON escalation_events
          FOR EACH STATEMENT EXECUTE FUNCTION escalation_events_append_only();
      END IF;
    END $$"""
for _statement in _SQLITE_AUDIT_GUARDS:
    sa.event.listen(metadata, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
sa.event.listen(metadata, "after_create", sa.DDL(_POSTGRESQL_AUDIT_GUARD).execute_if(dialect="postgresql"))


@lru_cache(maxsize=None)
def engine(url: str) -> sa.engine.Engine:
    """The process's engine for `url`, with every table created if missing."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    created = sa.create_engine(url, future=True, pool_pre_ping=True)
    _create_tables(created)
    _add_appointments_language(created)
    return created


def _create_tables(engine: sa.engine.Engine, attempts: int = 3) -> None:
    """create_all, tolerating another process that creates the same new table at the same moment
    (`make run` starts four processes at once): its check and its CREATE are not one step, so the
    loser gets "already exists"; looking again then finds the table."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.DBAPIError:  # SQLite: OperationalError; PostgreSQL: ProgrammingError
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def _add_appointments_language(engine: sa.engine.Engine) -> None:
    """Add appointments.language to a database whose appointments table predates it.

    create_all creates missing tables, never missing columns, and outreach writes the column and
    every session start reads it, so both would fail on such a database. The column is nullable
    with no default: ADD COLUMN is then the same statement on SQLite and PostgreSQL, changes only
    the table's definition (no rewrite, no long lock) and old rows read NULL (language_for: unknown).
    It runs only when the column is missing, so once per database; of two processes starting at once
    both may try, and the loser's "duplicate column" error is ignored once the column is seen there.
    """
    def has_column() -> bool:
        return "language" in {c["name"] for c in sa.inspect(engine).get_columns("appointments")}

    if has_column():
        return
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE appointments ADD COLUMN language VARCHAR(8)"))
    except sa.exc.DBAPIError:
        if not has_column():
            raise


def iso_time(timestamp: float) -> str:
    """The records' timestamp format, for a time in seconds since the epoch (an injected clock's)."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def utc_now_iso() -> str:
    return iso_time(time.time())
