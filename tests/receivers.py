"""Real protocol peers on loopback for the escalation delivery tests."""
import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from scripts.ports import free_port


class _Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.owner = self
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers["Content-Length"]))


class WebhookReceiver(_Server):
    """Refuses the first `refuse` requests with 503, optionally stalls the first one; records the rest."""

    def __init__(self, refuse: int = 0, stall_first_seconds: float = 0.0):
        self.refuse, self.stall = refuse, stall_first_seconds
        self.requests, self.accepted = [], {}
        self.lock = threading.Lock()
        super().__init__(_WebhookHandler)


class _WebhookHandler(_QuietHandler):
    def do_POST(self):
        owner = self.server.owner
        body = self.read_body()
        with owner.lock:
            owner.requests.append((dict(self.headers), body))
            n = len(owner.requests)
        if n == 1 and owner.stall:
            time.sleep(owner.stall)
        if n <= owner.refuse:
            self.send_response(503)
            self.end_headers()
            return
        with owner.lock:  # the idempotency key makes a repeat harmless
            owner.accepted.setdefault(self.headers["Idempotency-Key"], (dict(self.headers), body))
        self.send_response(200)
        self.end_headers()


class TwilioApiStandIn(_Server):
    """Twilio's Messages API as it is called: form-encoded To/From/Body under HTTP basic auth."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages = []
        super().__init__(_TwilioHandler)


class _TwilioHandler(_QuietHandler):
    def do_POST(self):
        owner = self.server.owner
        expected = "Basic " + base64.b64encode(f"{owner.account_sid}:{owner.auth_token}".encode()).decode()
        body = self.read_body().decode()
        if self.headers.get("Authorization") != expected:
            return self._reply(401, {"code": 20003, "message": "Authenticate"})
        if self.path != f"/2010-04-01/Accounts/{owner.account_sid}/Messages.json":
            return self._reply(404, {"code": 20404, "message": "Not found"})
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        if not {"To", "From", "Body"} <= form.keys():
            return self._reply(400, {"code": 21604, "message": "missing parameter"})
        owner.messages.append(form)
        self._reply(201, {"sid": f"SM{len(owner.messages):032d}", "status": "queued", **form})

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SmtpReceiver:
    def __init__(self):
        self.messages = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def close(self):
        self.controller.stop()
