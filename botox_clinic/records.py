"""The clinic records database (RECORDS_DB_URL): escalations and their deliveries, SMS opt-outs and
offered choices, appointments and outreach.

Its whole schema is here, and each process opens it once: `engine(url)` gives the one engine per
URL (pooled connections, every table created if missing, a SQLite file's directory made), so the
stores (escalations, sms_state, appointments) are cheap views on it and nothing needs resetting
between tests that use different URLs. One timestamp format for its records.
"""
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
)

outreach_sent = sa.Table(
    "outreach_sent", metadata,
    sa.Column("appointment_key", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # invite | follow_up
    sa.Column("state", sa.String(16), nullable=False),  # sending | sent
    sa.Column("at", sa.String(40), nullable=False),
)


@lru_cache(maxsize=None)
def engine(url: str) -> sa.engine.Engine:
    """The process's engine for `url`, with every table created if missing."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    created = sa.create_engine(url, future=True, pool_pre_ping=True)
    metadata.create_all(created)
    return created


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
