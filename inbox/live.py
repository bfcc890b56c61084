"""GET /events: the open inbox's live updates, as server-sent events.

Each connection polls the records database (`InboxStore.change_marker`, one small query) every
half second and, when something changed, sends one `inbox` event: the cards' order and every card
whose version differs from what this connection last sent, rendered by the same template as the
page. The first event after connecting has every card, so nothing recorded between the page's load
and the connection is missed. A connection ends after a few minutes and the browser reconnects,
which checks the session again.
"""
from __future__ import annotations

import json
import time
from typing import Dict

from flask import Blueprint, Response, current_app, render_template, stream_with_context
from flask_wtf.csrf import generate_csrf

from inbox.context import current_inbox

blueprint = Blueprint("live", __name__)

POLL_SECONDS = 0.5
STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15  # a comment now and then, so that proxies keep the connection and a closed one is noticed


@blueprint.get("/events")
def events():
    # Before the response starts: the forms in the cards need the session's CSRF token, and a
    # session can no longer be saved once streaming has begun.
    generate_csrf()
    config = current_app.config
    return Response(stream_with_context(_updates(config.get("INBOX_POLL_SECONDS", POLL_SECONDS),
                                                 config.get("INBOX_STREAM_SECONDS", STREAM_SECONDS))),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _updates(poll_seconds: float, stream_seconds: float):
    inbox = current_inbox()
    yield "retry: 1000\n\n"
    sent: Dict[str, str] = {}  # escalation id -> the version of its card this connection has
    marker = None
    ends = time.monotonic() + stream_seconds
    last_write = time.monotonic()
    while time.monotonic() < ends:
        now_marker = inbox.store.change_marker()
        if now_marker != marker:
            marker = now_marker
            items = inbox.store.items()
            names = inbox.display_names()
            changed = {item.escalation.id: {"version": item.version,
                                            "html": render_template("_card.html", item=item, names=names)}
                       for item in items if sent.get(item.escalation.id) != item.version}
            sent = {item.escalation.id: item.version for item in items}
            yield _event("inbox", {"order": [item.escalation.id for item in items], "cards": changed})
            last_write = time.monotonic()
        elif time.monotonic() - last_write > KEEPALIVE_SECONDS:
            yield ": keepalive\n\n"
            last_write = time.monotonic()
        time.sleep(poll_seconds)


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"
