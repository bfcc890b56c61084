"""The inbox application: `create_app(settings)`. Served by waitress (inbox/__main__.py); tests use
Flask's test client on the same application."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from botox_clinic import paths
from botox_clinic.inbox_store import NOTE_MAX_CHARS, OUTCOMES, REPLY_MAX_CHARS, InboxStore
from botox_clinic.settings import Settings
from inbox import auth, live, views
from inbox.context import Inbox, current_inbox, signed_in
from inbox.secret_key import stored_secret_key

TIER_NAMES = {"emergency": "Emergency", "urgent": "Urgent", "handoff": "Asks for a person"}
CHANNEL_NAMES = {"twilio": "SMS", "webchat": "Web chat", "rest": "REST"}
SESSION_HOURS = 12  # about a shift: then the clinician logs in again
# No inline script or style, nothing from elsewhere, never inside another site's frame.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class _SessionCookies(SecureCookieSessionInterface):
    """Secure cookies when configured, and for any request that came over HTTPS (behind a proxy,
    as ProxyFix reports it), so that the cookie never goes back over plain HTTP."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.inbox.secret_key or stored_secret_key(paths.VAR / "inbox_secret_key"),
        SESSION_COOKIE_NAME="clinic_inbox_session",  # cookies are per host, not per port
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.inbox.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # A token as long-lived as the session: the inbox stays open all shift, and Flask-WTF's
        # default hour would refuse an Acknowledge clicked after it.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.session_interface = _SessionCookies()
    if settings.inbox.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["clinic_inbox"] = Inbox(InboxStore(settings.records_db_url), settings)
    # First: a request without a session is turned away (401 or the login page) before anything else.
    auth.register(app)
    CSRFProtect(app)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(live.blueprint)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.jinja_env.globals.update(outcomes=OUTCOMES, tier_names=TIER_NAMES, channel_names=CHANNEL_NAMES,
                                 reply_max_chars=REPLY_MAX_CHARS, note_max_chars=NOTE_MAX_CHARS,
                                 clinic_name=settings.clinic.name)
    app.jinja_env.filters.update(local_time=lambda iso: current_inbox().local_time(iso), duration=_duration)
    app.context_processor(lambda: {"clinician": signed_in()})
    return app


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"  # patients' details: never in a browser cache
    return response


def _csrf_refused(error: CSRFError):
    return render_template("error.html", title="Form expired or forged",
                           detail="The form was refused (CSRF check). Reload the page and try again."), 400


def _duration(seconds):
    """A time to acknowledge for people: "45 s", "12 min", "3 h 05 min"."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
