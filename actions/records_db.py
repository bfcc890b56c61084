"""The clinic records database (ESCALATION_DB_URL): escalations, SMS opt-outs, appointments.

One way to open it, so every store gets the same engine options and a SQLite file's directory is
created whichever store happens to open it first; and one timestamp format for its records.
"""
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa


def open_engine(url: str, metadata: sa.MetaData) -> sa.engine.Engine:
    """An engine for `url`, with `metadata`'s tables created if missing."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
