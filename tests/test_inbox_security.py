"""The clinician inbox's security: nothing without a session, CSRF on every form, login attempts
limited, cookies, the session key, and an audit log that neither the app nor the database lets
anyone change."""
import os
import stat

import pytest
import sqlalchemy as sa
from inbox_helpers import PASSWORD, add_clinician, csrf_token, inbox_settings, log_in, page_token, record
from test_escalation_store import postgres_url  # noqa: F401 (a fixture: one private PostgreSQL server)

from botox_clinic import records
from botox_clinic.inbox_store import ACKNOWLEDGED, NEW, InboxStore
from inbox.app import create_app
from inbox.secret_key import stored_secret_key

# Served without a session: the login form (at /), its POST, and the static files.
PUBLIC = {"inbox.index", "login", "static"}


@pytest.fixture
def config(tmp_path):
    return inbox_settings(tmp_path)


@pytest.fixture
def db(config):
    return config.records_db_url


@pytest.fixture
def inbox(db):
    store = InboxStore(db)
    add_clinician(store)
    return store


@pytest.fixture
def app(config, inbox):
    return create_app(config)


def _audit_rows(db):
    with records.engine(db).connect() as conn:
        return [tuple(row) for row in conn.execute(records.escalation_events.select()
                                                   .order_by(records.escalation_events.c.id))]


def _every_route(app, escalation_id):
    """(method, path) for every route the app has, but the public ones."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        path = rule.build({"escalation_id": escalation_id} if "escalation_id" in rule.arguments else {})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def test_without_a_session_every_page_redirects_to_the_login_and_every_api_answers_401(app, db, inbox):
    escalation = record(db)
    client = app.test_client()
    routes = list(_every_route(app, escalation.id))
    assert {path for _, path in routes} >= {"/api/escalations", "/events", "/summary", "/summary.csv", "/logout",
                                            f"/escalations/{escalation.id}/acknowledge"}
    for method, path in routes:
        answer = client.open(path, method=method)
        if path.startswith("/api/") or path == "/events":
            assert answer.status_code == 401, (method, path)
        else:
            login = "/?next=" if method == "GET" else "/"  # back to the page after logging in
            assert answer.status_code == 302 and answer.headers["Location"].startswith(login), (method, path)
        assert escalation.id not in answer.text and "i can't swallow" not in answer.text
    assert inbox.item(escalation.id).state == NEW and _audit_rows(db) == []
    assert client.get("/no-such-page").status_code == 302  # even a path that does not exist


def test_the_login_form_is_what_a_visitor_without_a_session_gets(app, db):
    escalation = record(db)
    page = app.test_client().get("/")
    assert page.status_code == 200 and 'action="/login"' in page.text and 'name="password"' in page.text
    assert escalation.id not in page.text


def test_a_missing_or_forged_csrf_token_is_refused(app, db, inbox):
    escalation = record(db)
    client = app.test_client()
    log_in(client)
    other = app.test_client()
    log_in(other)
    tokens = {"missing": None, "forged": "IjAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OSI.forged.signature",
              "another session's": page_token(other)}
    for why, token in tokens.items():
        answer = client.post(f"/escalations/{escalation.id}/acknowledge", data={"csrf_token": token} if token else {})
        assert answer.status_code == 400 and "CSRF" in answer.text, why
    assert inbox.item(escalation.id).state == NEW and _audit_rows(db) == []
    assert client.post(f"/escalations/{escalation.id}/acknowledge", data={"csrf_token": page_token(client)}
                       ).status_code == 302
    assert inbox.item(escalation.id).state == ACKNOWLEDGED


def test_logging_in_and_out_need_a_csrf_token_too(app):
    client = app.test_client()
    client.get("/")
    assert client.post("/login", data={"username": "ana", "password": PASSWORD}).status_code == 400
    assert log_in(client).status_code == 302
    assert client.post("/logout").status_code == 400  # a link on another site cannot log a clinician out
    assert client.get("/api/escalations").status_code == 200
    assert client.post("/logout", data={"csrf_token": page_token(client)}).status_code == 302
    assert client.get("/api/escalations").status_code == 401


def test_the_sixth_wrong_password_for_an_account_within_a_minute_is_refused(app, inbox):
    client = app.test_client()
    for attempt in range(5):  # from different addresses: the account's own count
        assert log_in(client, password="wrong password!", address=f"10.0.0.{attempt}").status_code == 401
    refused = log_in(client, address="10.0.0.99")  # the right password, but too late
    assert refused.status_code == 429 and "Too many failed logins" in refused.text
    assert refused.headers.get("Retry-After")
    assert client.get("/api/escalations").status_code == 401
    add_clinician(inbox, "ben", "Ben")
    assert log_in(app.test_client(), "ben", address="10.0.0.99").status_code == 302  # another account is not locked


def test_the_sixth_wrong_password_from_an_address_within_a_minute_is_refused(app, inbox):
    for i in range(5):  # each a different account, even ones that do not exist
        assert log_in(app.test_client(), f"nobody{i}", "wrong password!", address="10.0.0.7").status_code == 401
    assert log_in(app.test_client(), address="10.0.0.7").status_code == 429
    assert log_in(app.test_client(), address="10.0.0.8").status_code == 302


def test_logins_that_succeed_are_not_counted(app):
    for _ in range(8):
        assert log_in(app.test_client(), address="10.0.0.9").status_code == 302


def test_a_forwarded_address_counts_only_behind_a_proxy(tmp_path, inbox):
    direct, proxied = (create_app(inbox_settings(tmp_path, **env)) for env in ({}, {"CLINIC_INBOX_BEHIND_PROXY": "1"}))
    for app in (direct, proxied):
        for i in range(5):
            client = app.test_client()
            client.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{i}"
            assert log_in(client, f"nobody{i}", "wrong password!").status_code == 401
    # Without the proxy, X-Forwarded-For is anyone's to send: the five came from one address.
    assert log_in(direct.test_client()).status_code == 429
    assert log_in(proxied.test_client()).status_code == 302


def test_an_inactive_account_can_neither_log_in_nor_keep_its_session(app, db):
    client = app.test_client()
    log_in(client)
    with records.engine(db).begin() as conn:
        conn.execute(records.clinicians.update().values(active=False))
    assert client.get("/api/escalations").status_code == 401
    assert log_in(app.test_client()).status_code == 401


def test_after_logging_in_the_browser_goes_back_to_this_site_only(app):
    client = app.test_client()
    token = csrf_token(client.get("/").text)
    for target, landing in [("/summary", "/summary"), ("https://evil.example/", "/"), ("//evil.example", "/"),
                            ("/\\evil.example", "/")]:
        answer = client.post("/login?next=" + target, data={"username": "ana", "password": PASSWORD,
                                                            "csrf_token": token})
        assert answer.headers["Location"] == landing, target
        token = page_token(client)  # a new session after each login


def test_session_cookie_is_http_only_and_same_site_lax_and_secure_over_https(tmp_path, inbox):
    def cookie(app, **headers):
        client = app.test_client()
        client.environ_base.update(headers)
        return log_in(client).headers["Set-Cookie"]

    plain = cookie(create_app(inbox_settings(tmp_path)))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert "Secure" in cookie(create_app(inbox_settings(tmp_path, CLINIC_INBOX_SECURE_COOKIES="1")))
    behind_proxy = create_app(inbox_settings(tmp_path, CLINIC_INBOX_BEHIND_PROXY="1"))
    assert "Secure" in cookie(behind_proxy, HTTP_X_FORWARDED_PROTO="https", HTTP_REFERER="https://localhost/")
    # Without a proxy configured, anyone could send the header: it is ignored.
    assert "Secure" not in cookie(create_app(inbox_settings(tmp_path)), HTTP_X_FORWARDED_PROTO="https")


def test_pages_are_not_cached_and_cannot_be_framed_or_run_inline_script(app):
    page = app.test_client().get("/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_key_is_generated_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "var/inbox_secret_key"
    key = stored_secret_key(path)
    assert len(key) >= 48 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stored_secret_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["inbox_secret_key"]  # no draft left behind


# --- The audit log cannot be changed ------------------------------------------------------------

def test_no_route_can_change_or_remove_an_audit_row(app, db, inbox):
    assert not any(rule.methods & {"PUT", "PATCH", "DELETE"} for rule in app.url_map.iter_rules())
    escalation = record(db)
    client = app.test_client()
    log_in(client)
    token = page_token(client)
    before = None
    for action, data in [("acknowledge", {}), ("reply", {"text": "Please call 911."}), ("hold", {}), ("release", {}),
                         ("acknowledge", {}), ("resolve", {"outcome": "advised", "note": "ok"}),
                         ("resolve", {"outcome": "not_reached", "note": "changed my mind"})]:
        client.post(f"/escalations/{escalation.id}/{action}", data={"csrf_token": token, **data})
        rows = _audit_rows(db)
        if before is not None:
            assert rows[:len(before)] == before, action  # earlier rows untouched, at most one appended
            assert len(rows) - len(before) <= 1
        before = rows
    assert [row[4] for row in before] == ["acknowledged", "replied", "held", "released", "resolved"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.live)])
def any_records_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    return request.getfixturevalue("postgres_url")


def test_the_database_refuses_to_update_or_delete_an_audit_row(any_records_db):
    escalation = record(any_records_db)
    InboxStore(any_records_db).acknowledge(escalation.id, "ana")
    mine = records.escalation_events.c.escalation_id == escalation.id
    engine = records.engine(any_records_db)
    for statement in (records.escalation_events.update().where(mine).values(actor="someone else"),
                      records.escalation_events.delete().where(mine)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(statement)
    with engine.connect() as conn:
        assert [(row.actor, row.action) for row in conn.execute(records.escalation_events.select().where(mine))] == [
            ("ana", ACKNOWLEDGED)]


def test_the_guard_is_added_to_a_database_made_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = records.engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER escalation_events_no_update")
    records.engine.cache_clear()  # as a process started after the upgrade
    escalation = record(url)
    InboxStore(url).acknowledge(escalation.id, "ana")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with records.engine(url).begin() as conn:
            conn.execute(records.escalation_events.update().values(actor="someone else"))
