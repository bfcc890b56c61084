"""The clinic's summary: escalations per ISO week by tier with the time to acknowledge them, and the
questions the assistant could not answer, grouped by topic with examples (the material for
improving the answers). Shown by the inbox at /summary and exported as /summary.csv.

It names nobody: no conversation ids, and in the patients' questions every run of digits (phone
numbers, dates, references), anything looking like an e-mail address, a name introduced as one ("my
name is ...", "I'm ...") and every first name the clinic's appointments know is replaced by a
placeholder. Names said any other way can slip through: the redaction is a heuristic, which is why
the summary is for the clinic's staff only.
"""
from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from botox_clinic.inbox_store import TIER_ORDER, InboxStore

# The responses that mean the assistant did not answer (domain.yml): the topic menu after a message
# it did not understand, and "that's a question for your care team".
UNANSWERED_RESPONSES = {"utter_fallback": "fallback", "utter_defer_to_care_team": "deferral"}
# Intents that say a message was not understood or not answerable rather than what it was about:
# the topic is the best-ranked intent after them.
_NOT_A_TOPIC = {"nlu_fallback", "ask_unsupported_medical", "out_of_scope"}
UNRECOGNISED_TOPIC = "not recognised"
EXAMPLES_PER_TOPIC = 3
EXAMPLE_MAX_CHARS = 200

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"\+?\(?\d[\d\s().-]*\d|\d")
_INTRODUCED_NAME = re.compile(r"\b((?i:my name is|my name's|call me|i am|i'm|im))\s+[A-Z][\w'-]*")


@dataclass(frozen=True)
class WeekRow:
    week: str  # ISO week in the clinic's time zone, "2026-W49"; "all" for the totals
    tier: str
    escalations: int
    acknowledged: int
    median_seconds: Optional[float]  # to acknowledge, of those acknowledged
    worst_seconds: Optional[float]


@dataclass(frozen=True)
class TopicRow:
    topic: str
    questions: int
    fallbacks: int
    deferrals: int
    examples: Tuple[str, ...]  # redacted, newest first


@dataclass(frozen=True)
class Summary:
    weeks: List[WeekRow]
    totals: List[WeekRow]
    topics: List[TopicRow]


def build_summary(store: InboxStore, tracker_db_url: Optional[str], timezone: str) -> Summary:
    weeks, totals = escalation_weeks(store.acknowledgement_delays(), timezone)
    topics = unanswered_questions(tracker_db_url, store.patient_first_names()) if tracker_db_url else []
    return Summary(weeks, totals, topics)


def redact(text: str, first_names: Iterable[str] = ()) -> str:
    """`text` without e-mail addresses, digits or names (see the module's docstring)."""
    text = _EMAIL.sub("[email]", text)
    text = _NUMBER.sub("[number]", text)
    text = _INTRODUCED_NAME.sub(lambda m: f"{m.group(1)} [name]", text)
    names = sorted({name.strip() for name in first_names if len(name.strip()) > 1}, key=len, reverse=True)
    if names:
        text = re.sub(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b", "[name]", text, flags=re.IGNORECASE)
    return text


def escalation_weeks(delays: Sequence[Tuple[str, str, Optional[str]]], timezone: str) -> Tuple[List[WeekRow], List[WeekRow]]:
    """Per (ISO week, tier) and per tier over all weeks, from (created_at, tier, acknowledged_at)."""
    zone = ZoneInfo(timezone)
    by_week: Dict[Tuple[str, str], list] = defaultdict(list)
    by_tier: Dict[str, list] = defaultdict(list)
    for created_at, tier, acknowledged_at in delays:
        created = datetime.fromisoformat(created_at)
        year, week, _ = created.astimezone(zone).isocalendar()
        waited = (datetime.fromisoformat(acknowledged_at) - created).total_seconds() if acknowledged_at else None
        by_week[(f"{year}-W{week:02d}", tier)].append(waited)
        by_tier[tier].append(waited)
    weeks = [_week_row(week, tier, waits) for (week, tier), waits in sorted(by_week.items(), key=_week_then_tier)]
    totals = [_week_row("all", tier, waits) for tier, waits in sorted(by_tier.items(), key=lambda kv: _tier_rank(kv[0]))]
    return weeks, totals


def unanswered_questions(tracker_db_url: str, first_names: Iterable[str] = ()) -> List[TopicRow]:
    """The patients' messages answered by a fallback or a deferral, from Rasa's SQL tracker store,
    grouped by topic (the classifier's best guess at what they were about), most asked first."""
    found: Dict[str, list] = defaultdict(list)  # topic -> [(timestamp, kind, text)]
    for timestamp, kind, user_event in _unanswered_messages(tracker_db_url):
        text = (user_event.get("text") or "").strip()
        if text and not text.startswith("/"):  # a button's payload is not a question
            found[_topic(user_event.get("parse_data") or {})].append((timestamp or 0, kind, text))
    names = list(first_names)
    rows = []
    for topic, questions in found.items():
        examples = []
        for _, _, text in sorted(questions, key=lambda q: q[0], reverse=True):
            example = redact(text, names)[:EXAMPLE_MAX_CHARS]
            if example not in examples:
                examples.append(example)
        kinds = [kind for _, kind, _ in questions]
        rows.append(TopicRow(topic, len(questions), kinds.count("fallback"), kinds.count("deferral"),
                             tuple(examples[:EXAMPLES_PER_TOPIC])))
    return sorted(rows, key=lambda row: (-row.questions, row.topic))


def summary_csv(summary: Summary) -> str:
    """One table: a row per week and tier, per tier over all weeks, then per unanswered topic."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "week", "tier", "escalations", "acknowledged", "median_minutes_to_acknowledge",
                     "worst_minutes_to_acknowledge", "topic", "questions", "fallbacks", "deferrals", "examples"])
    for row in summary.weeks + summary.totals:
        writer.writerow(["escalations", row.week, row.tier, row.escalations, row.acknowledged,
                         _minutes(row.median_seconds), _minutes(row.worst_seconds)] + [""] * 5)
    for row in summary.topics:
        writer.writerow(["unanswered"] + [""] * 6 + [row.topic, row.questions, row.fallbacks, row.deferrals,
                                                     _spreadsheet_safe(" | ".join(row.examples))])
    return out.getvalue()


def _unanswered_messages(tracker_db_url: str):
    """(timestamp, "fallback" or "deferral", the user event) for each message the assistant answered so."""
    if tracker_db_url.startswith("sqlite:///") and not Path(tracker_db_url[len("sqlite:///"):]).exists():
        return  # no conversation yet (and connecting would create the file)
    engine = sa.create_engine(tracker_db_url, future=True)
    try:
        if not sa.inspect(engine).has_table("events"):
            return
        events = sa.Table("events", sa.MetaData(), autoload_with=engine)
        query = (sa.select(events.c.sender_id, events.c.type_name, events.c.action_name, events.c.timestamp,
                           events.c.data)
                 .where(events.c.type_name.in_(("user", "action"))).order_by(events.c.sender_id, events.c.id)
                 .execution_options(stream_results=True))
        with engine.connect() as conn:
            sender, pending = None, None  # the conversation's latest message, while not yet answered
            for row in conn.execute(query):
                if row.sender_id != sender:
                    sender, pending = row.sender_id, None
                if row.type_name == "user":
                    pending = (row.timestamp, row.data)
                elif pending and row.action_name in UNANSWERED_RESPONSES:
                    yield pending[0], UNANSWERED_RESPONSES[row.action_name], json.loads(pending[1])
                    pending = None
    finally:
        engine.dispose()


def _topic(parse_data: dict) -> str:
    for ranked in parse_data.get("intent_ranking") or [parse_data.get("intent") or {}]:
        name = ranked.get("name")
        if name and name not in _NOT_A_TOPIC:
            return name.removeprefix("ask_").replace("_", " ")
    return UNRECOGNISED_TOPIC


def _week_row(week: str, tier: str, waits: List[Optional[float]]) -> WeekRow:
    acknowledged = [w for w in waits if w is not None]
    return WeekRow(week, tier, len(waits), len(acknowledged), statistics.median(acknowledged) if acknowledged else None,
                   max(acknowledged) if acknowledged else None)


def _tier_rank(tier: str) -> tuple:
    return (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), tier)


def _week_then_tier(item) -> tuple:
    (week, tier), _ = item
    return (week, _tier_rank(tier))


def _minutes(seconds: Optional[float]) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _spreadsheet_safe(cell: str) -> str:
    """A patient's words must not run as a formula when the CSV is opened in a spreadsheet."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
