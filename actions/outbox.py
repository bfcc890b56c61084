"""Deliver recorded escalations to the clinic, at least once, and show what is undelivered.

    python -m actions.outbox run          # the delivery worker (started by `make run`)
    python -m actions.outbox run --once   # one pass, then exit
    python -m actions.outbox list [--undelivered]

The worker is its own process, separate from the action server: it picks up whatever is due in
the store, including work left by a crashed or restarted process, and retries failures with
exponential backoff (capped, never given up: an undelivered escalation stays visible in `list`).
"""
from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import time
from typing import Optional

from actions.escalation_store import DELIVERED, EscalationStore
from actions.notifications import SENDERS, DeliveryError
from actions.settings import Settings, get_settings

log = logging.getLogger("escalation.outbox")

def backoff_seconds(attempts: int, settings: Settings) -> float:
    """Exponential backoff with jitter: base, 2*base, 4*base... capped at the maximum."""
    delay = min(settings.retry_max_seconds, settings.retry_base_seconds * (2 ** attempts))
    return delay * random.uniform(0.8, 1.0)


def deliver_due(store: EscalationStore, settings: Settings) -> int:
    """One pass over due deliveries; returns how many were delivered."""
    delivered = 0
    for delivery in store.claim_due(settings.outbox_lease_seconds):
        escalation = store.get(delivery.escalation_id)
        target = settings.targets.get(delivery.target)
        if escalation is None or target is None:
            error = "target no longer configured" if target is None else "escalation record missing"
            store.mark_failed_attempt(delivery.escalation_id, delivery.target, error,
                                      time.time() + settings.retry_max_seconds)
            log.error("escalation %s to %s: %s", delivery.escalation_id, delivery.target, error)
            continue
        try:
            SENDERS[delivery.target](target, escalation)
        except DeliveryError as exc:
            retry_at = time.time() + backoff_seconds(delivery.attempts, settings)
            store.mark_failed_attempt(delivery.escalation_id, delivery.target, str(exc), retry_at)
            log.warning("escalation %s to %s failed (attempt %d): %s", escalation.id, delivery.target,
                        delivery.attempts + 1, exc)
        else:
            store.mark_delivered(delivery.escalation_id, delivery.target)
            delivered += 1
            log.info("escalation %s delivered to %s", escalation.id, delivery.target)
    return delivered


def run(settings: Settings, once: bool = False, store: Optional[EscalationStore] = None) -> None:
    store = store or EscalationStore(settings.escalation_db_url)
    if not settings.targets:
        log.warning("no escalation targets configured: escalations are recorded but nobody is notified")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    log.info("outbox worker started; targets: %s", ", ".join(settings.targets) or "none")
    while not stopping:
        deliver_due(store, settings)
        if once:
            break
        time.sleep(settings.outbox_poll_seconds)


def print_list(store: EscalationStore, undelivered_only: bool) -> None:
    rows = store.list(undelivered_only=undelivered_only)
    if not rows:
        print("no undelivered escalations" if undelivered_only else "no escalations")
    for escalation, ds in rows:
        states = ", ".join(
            f"{d.target}: {d.state}" + (f" after {d.attempts} attempt(s)" if d.state == DELIVERED else
                                        f", {d.attempts} failed attempt(s)" + (f" ({d.last_error})" if d.last_error else ""))
            for d in ds) or "no targets configured"
        print(f"{escalation.id}  {escalation.created_at}  {escalation.tier:<9}  {escalation.channel:<8}  "
              f"{', '.join(escalation.symptoms)}  [{states}]")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.outbox", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="deliver pending escalations")
    run_parser.add_argument("--once", action="store_true", help="one pass, then exit")
    list_parser = sub.add_parser("list", help="list escalations and their delivery state")
    list_parser.add_argument("--undelivered", action="store_true", help="only those not yet delivered everywhere")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    if args.command == "run":
        run(settings, once=args.once)
    else:
        print_list(EscalationStore(settings.escalation_db_url), args.undelivered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
