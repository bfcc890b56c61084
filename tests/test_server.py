"""The running assistant over REST: bad input gets a 4xx or a polite reply, and the server keeps serving."""
import json
import urllib.error
import urllib.request

import pytest
from rest_client import post, say


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400), (b"[1, 2]", 400), (b'{"message": "hi"}', 400), (b'{"sender": "a"}', 400),
    (b'{"sender": "a", "message": ""}', 400), (b'{"sender": "a", "message": "   "}', 400),
    (b'{"sender": "a", "message": ["x"]}', 400), (b'{"sender": "", "message": "hi"}', 400),
    (b'{"sender": "a", "message": "hi", "metadata": 7}', 400),
    (json.dumps({"sender": "a", "message": "x " * 5000}).encode(), 413),
    (json.dumps({"sender": "a", "message": "x" * 2_000_000}).encode(), 413),  # over Sanic's 1 MB limit
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", 400),
])
def test_bad_input_gets_a_clear_4xx(assistant, body, status):
    url = assistant.url
    code, payload = post(url, body)
    assert code == status and payload.get("message"), payload
    assert say(url, "still-up", "hello")[0] == 200  # and the server keeps serving


@pytest.mark.parametrize("text", ["😀😀😀", "¿Qué es el bótox?", "asdkjh qwpoeiru zmxn", "?" * 300])
def test_odd_messages_get_a_polite_reply(assistant, text):
    url = assistant.url
    code, replies = say(url, f"odd-{abs(hash(text))}", text)
    assert code == 200 and any(r.get("text") for r in replies)


def test_unknown_fields_are_ignored(assistant):
    url = assistant.url
    code, replies = post(url, json.dumps({"sender": "extra", "message": "what is botox", "color": "red"}).encode())
    assert code == 200 and "neuromodulator" in " ".join(r.get("text", "") for r in replies)


def test_red_flag_is_stored_before_the_reply_names_it_and_only_then(assistant):
    url, store = assistant.url, assistant.escalations
    say(url, "rf-1", "hi")
    say(url, "rf-1", "what are the side effects")
    assert [e for e, _ in store.list() if e.sender_id == "rf-1"] == []  # questions page nobody
    code, replies = say(url, "rf-1", "my throat is tightening up")
    [payload] = [r["custom"] for r in replies if r.get("custom")]
    assert payload["type"] == "escalation" and payload["tier"] == "emergency"
    stored = store.get(payload["reference"])
    assert stored is not None and stored.sender_id == "rf-1" and stored.channel == "rest"
    assert [e.id for e, _ in store.list() if e.sender_id == "rf-1"] == [stored.id]  # exactly one
    assert "911" in " ".join(r.get("text", "") for r in replies)


def test_medical_context_from_an_earlier_turn_shapes_the_answer(assistant):
    url = assistant.url
    say(url, "ctx-1", "it's for my chronic migraine")
    text = " ".join(r.get("text", "") for r in say(url, "ctx-1", "how long will it last")[1])
    assert "three to four months" in text and "up to three months" not in text


def test_rasa_http_api_is_off_by_default(assistant):
    # make run enables it only with RASA_API_TOKEN; without it /status and /conversations do not exist.
    for path in ("/status", "/conversations/rf-1/tracker"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(assistant.url + path, timeout=10)
        assert missing.value.code == 404
