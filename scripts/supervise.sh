# Sourced by run.sh; tests/test_supervise.py runs it on its own.
# Runs a part, and again a second after it exits, until run.sh stops it. Every part but the Rasa
# server is run this way: the Rasa server escalates red flags on its own (README, How it decides),
# so a dead action server, outbox worker or inbox is started again, not a reason to stop answering.
supervise() {
  local name=$1 child status
  shift
  trap 'kill "$child" 2>/dev/null; exit 0' INT TERM
  while true; do
    "$@" &
    child=$!
    wait "$child" && status=0 || status=$?
    echo "run.sh: the $name exited ($status); starting it again" >&2
    sleep 1
  done
}
