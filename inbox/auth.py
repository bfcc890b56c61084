"""Clinicians' sessions: logging in (rate-limited) and out, and the rule that nothing but the login
form and the static files is served without a session.

The rule is one check before every request rather than a decorator on each view, so that a new
route is protected without anyone remembering to. /api/ and /events answer 401 (scripts and
EventSource read it); pages send the browser to the login form.
"""
from __future__ import annotations

import hashlib
from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, g, jsonify, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from botox_clinic.inbox_store import Clinician
from botox_clinic.passwords import password_matches
from inbox.context import current_inbox
from inbox.forms import LoginForm

SESSION_KEY = "clinician"
# The endpoints served without a session: the inbox's address shows the login form instead.
PUBLIC_ENDPOINTS = {"static", "inbox.index", "login"}
# Wrong passwords allowed per account and per client address in any 60 seconds; the next is
# refused (429) even when right. Counted in this process's memory: the inbox is one process.
FAILED_LOGINS_ALLOWED = "5 per minute"


def register(app: Flask) -> None:
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", strategy="moving-window",
                      headers_enabled=True)

    def failed(response) -> bool:
        return response.status_code == 401

    limited = limiter.limit(FAILED_LOGINS_ALLOWED, key_func=_client_address, deduct_when=failed)(
        limiter.limit(FAILED_LOGINS_ALLOWED, key_func=_account_tried, deduct_when=failed)(login))
    app.add_url_rule("/login", "login", limited, methods=["POST"])
    app.add_url_rule("/logout", "logout", logout, methods=["POST"])
    app.before_request(_require_session)
    app.register_error_handler(429, _too_many_attempts)


def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form, error="Enter your username and password."), 400
    username = form.username.data.strip().lower()
    clinician = current_inbox().store.clinician(username)
    stored_hash = clinician.password_hash if clinician and clinician.active else None
    if not password_matches(stored_hash, form.password.data):
        return render_template("login.html", form=form, error="Wrong username or password."), 401
    session.clear()  # nothing from before the login carries over
    session.permanent = True
    session[SESSION_KEY] = clinician.username
    return redirect(_local_path(request.args.get("next")))


def logout():
    session.clear()
    return redirect(url_for("inbox.index"))


def _require_session():
    g.clinician = _session_clinician()
    if g.clinician is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.path.startswith("/api/") or request.endpoint == "live.events":
        return jsonify(error="log in first"), 401
    next_page = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("inbox.index", next=next_page))


def _session_clinician() -> Optional[Clinician]:
    username = session.get(SESSION_KEY)
    if not username:
        return None
    clinician = current_inbox().store.clinician(username)
    if clinician is None or not clinician.active:
        session.clear()
        return None
    return clinician


def _client_address() -> str:
    return "address:" + get_remote_address()


def _account_tried() -> str:
    # Hashed: Flask-Limiter logs the key of a limit that is hit, and people type passwords into the
    # username field.
    username = (request.form.get("username") or "").strip().lower()
    return "account:" + hashlib.sha256(username.encode()).hexdigest()[:16]


def _local_path(target: Optional[str]) -> str:
    """Where to go after logging in: a path on this site only, never another site (an open redirect)."""
    if not target:
        return url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("inbox.index")
    return target


def _too_many_attempts(_error):
    return render_template("login.html", form=LoginForm(),
                           error="Too many failed logins: wait a minute, then try again."), 429
