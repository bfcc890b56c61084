#!/usr/bin/env bash
# Start the assistant: action server, escalation outbox worker, Rasa server (REST, web chat and
# SMS channels), the demo clinic page and the clinician inbox. Ctrl-C stops them all. Ports:
# RASA_PORT (5005), ACTION_PORT (5055, must match endpoints.yml), DEMO_PORT (8080),
# CLINIC_INBOX_PORT (8081); ACTION_HOST and CLINIC_INBOX_HOST (127.0.0.1) are where the action
# server and the inbox listen. Rasa's HTTP API stays off unless RASA_API_TOKEN is set.
set -euo pipefail
cd "$(dirname "$0")/.."
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
DEMO_PORT=${DEMO_PORT:-8080}
source scripts/server_env.sh
mkdir -p var

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

source scripts/supervise.sh

# rasa-sdk binds to SANIC_HOST; it has no authentication of its own, so keep it on loopback.
supervise "action server" env SANIC_HOST="${ACTION_HOST:-127.0.0.1}" \
  .venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" &
pids+=($!)
supervise "outbox worker" .venv/bin/python -m commands.outbox run &
pids+=($!)
# The demo clinic page embedding the chat widget (a stand-in for the clinic's own website).
supervise "demo page" .venv/bin/python -m http.server "$DEMO_PORT" --bind 127.0.0.1 --directory web/demo >/dev/null 2>&1 &
pids+=($!)
# The clinician inbox (staff only), and on the first start a demo account whose password is shown once.
demo_password=
if ! grep -q $'^demo\t' <<<"$(.venv/bin/python -m commands.clinicians list)"; then
  demo_password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
  .venv/bin/python -m commands.clinicians add-clinician demo --name "Demo clinician" --password-stdin \
    <<<"$demo_password" >/dev/null
fi
supervise "clinician inbox" .venv/bin/python -m inbox &
pids+=($!)
.venv/bin/rasa run --model models/current.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  --port "$RASA_PORT" ${RASA_API_TOKEN:+--enable-api --auth-token "$RASA_API_TOKEN"} &
rasa_pid=$!
pids+=($rasa_pid)

for _ in $(seq 120); do
  if curl -fs "http://localhost:$RASA_PORT/webhooks/rest/" >/dev/null 2>&1; then
    echo "Demo clinic page with the chat widget: http://localhost:$DEMO_PORT/"
    echo "Assistant ready: POST http://localhost:$RASA_PORT/webhooks/rest/webhook {\"sender\": \"...\", \"message\": \"...\"}"
    echo "Clinician inbox: http://localhost:${CLINIC_INBOX_PORT:-8081}/"
    if [ -n "$demo_password" ]; then
      echo "  log in as demo with the password $demo_password (shown this once; more accounts:" \
        "python -m commands.clinicians add-clinician USERNAME --name \"Name\")"
    fi
    .venv/bin/python -m commands.outbox targets
    break
  fi
  sleep 1
done
wait "$rasa_pid"  # without the Rasa server nothing answers: stop the rest
