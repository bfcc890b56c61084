"""The running assistant over REST: bad input gets a 4xx or a polite reply, and the server keeps serving."""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from actions.escalation_store import EscalationStore
from conftest import ROOT
from receivers import free_port

MODEL = ROOT / "models/current.tar.gz"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does)")
    tmp = tmp_path_factory.mktemp("server")
    rasa_port, action_port = free_port(), free_port()
    db = f"sqlite:///{tmp / 'escalations.db'}"
    (tmp / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp / 'trackers.db'}\nlock_store:\n  type: in_memory\n")
    env = {**__import__("os").environ, "ESCALATION_DB_URL": db, "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    rasa = str(ROOT / ".venv/bin/rasa")
    procs = [
        subprocess.Popen([rasa, "run", "actions", "--actions", "actions", "--port", str(action_port)], cwd=ROOT,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([rasa, "run", "--model", str(MODEL), "--endpoints", str(tmp / "endpoints.yml"),
                          "--credentials", str(ROOT / "credentials.yml"), "--port", str(rasa_port)], cwd=ROOT,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    url = f"http://127.0.0.1:{rasa_port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/webhooks/rest/", timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        pytest.fail("the Rasa server did not start")
    yield url, EscalationStore(db)
    for p in procs:
        p.terminate()
        p.wait()


def post(url, body: bytes, content_type="application/json"):
    request = urllib.request.Request(url + "/webhooks/rest/webhook", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read() or b"[]")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def say(url, sender, text):
    return post(url, json.dumps({"sender": sender, "message": text}).encode())


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400), (b"[1, 2]", 400), (b'{"message": "hi"}', 400), (b'{"sender": "a"}', 400),
    (b'{"sender": "a", "message": ""}', 400), (b'{"sender": "a", "message": "   "}', 400),
    (b'{"sender": "a", "message": ["x"]}', 400), (b'{"sender": "", "message": "hi"}', 400),
    (b'{"sender": "a", "message": "hi", "metadata": 7}', 400),
    (json.dumps({"sender": "a", "message": "x " * 5000}).encode(), 413),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", 400),
])
def test_bad_input_gets_a_clear_4xx(server, body, status):
    url, _ = server
    code, payload = post(url, body)
    assert code == status and payload.get("message"), payload
    assert say(url, "still-up", "hello")[0] == 200  # and the server keeps serving


@pytest.mark.parametrize("text", ["😀😀😀", "¿Qué es el bótox?", "asdkjh qwpoeiru zmxn", "?" * 300])
def test_odd_messages_get_a_polite_reply(server, text):
    url, _ = server
    code, replies = say(url, f"odd-{abs(hash(text))}", text)
    assert code == 200 and any(r.get("text") for r in replies)


def test_unknown_fields_are_ignored(server):
    url, _ = server
    code, replies = post(url, json.dumps({"sender": "extra", "message": "what is botox", "color": "red"}).encode())
    assert code == 200 and "neuromodulator" in " ".join(r.get("text", "") for r in replies)


def test_red_flag_is_stored_before_the_reply_names_it(server):
    url, store = server
    say(url, "rf-1", "hi")
    code, replies = say(url, "rf-1", "my throat is closing up")
    [payload] = [r["custom"] for r in replies if r.get("custom")]
    assert payload["type"] == "escalation" and payload["tier"] == "emergency"
    stored = store.get(payload["reference"])
    assert stored is not None and stored.sender_id == "rf-1" and stored.channel == "rest"
    assert "911" in " ".join(r.get("text", "") for r in replies)


def test_medical_context_from_an_earlier_turn_shapes_the_answer(server):
    url, _ = server
    say(url, "ctx-1", "it's for my chronic migraine")
    text = " ".join(r.get("text", "") for r in say(url, "ctx-1", "how long will it last")[1])
    assert "three to four months" in text and "up to three months" not in text
