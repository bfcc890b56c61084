"""Talking to the running assistant over its REST channel, as a website backend would."""
import json
import urllib.error
import urllib.request


def post(url, body: bytes, content_type="application/json"):
    request = urllib.request.Request(url + "/webhooks/rest/webhook", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read() or b"[]")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def say(url, sender, text):
    return post(url, json.dumps({"sender": sender, "message": text}).encode())
