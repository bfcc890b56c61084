#!/usr/bin/env bash
# Start the assistant: action server, escalation outbox worker and Rasa server (REST channel).
# Ctrl-C stops all three. Ports: RASA_PORT (5005), ACTION_PORT (5055, must match endpoints.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
# No telemetry or crash reports leave the machine.
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
mkdir -p var

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

.venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" &
pids+=($!)
.venv/bin/python -m actions.outbox run &
pids+=($!)
.venv/bin/rasa run --model models/current.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  --port "$RASA_PORT" &
pids+=($!)

for _ in $(seq 120); do
  if curl -fs "http://localhost:$RASA_PORT/webhooks/rest/" >/dev/null 2>&1; then
    echo "Assistant ready: POST http://localhost:$RASA_PORT/webhooks/rest/webhook {\"sender\": \"...\", \"message\": \"...\"}"
    break
  fi
  sleep 1
done
wait -n "${pids[@]}"  # if any part dies, stop the rest rather than serve half an assistant
