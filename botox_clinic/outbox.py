"""Deliver recorded escalations to the clinic, at least once, and show what is undelivered.

    python -m commands.outbox run          # the delivery worker (started by `make run`)
    python -m commands.outbox run --once   # one pass, then exit
    python -m commands.outbox list [--undelivered]

The worker is its own process, separate from the action server: it picks up whatever is due in
the store, including work left by a crashed or restarted process, and retries failures with
exponential backoff (capped, never given up: an undelivered escalation stays visible in `list`).
"""
from __future__ import annotations

import logging
import random
import signal
import time
from typing import Optional

from botox_clinic.escalations import DELIVERED, EscalationStore
from botox_clinic.notifications import SENDERS
from botox_clinic.settings import Settings
from botox_clinic.twilio import DeliveryError

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
    store = store or EscalationStore(settings.records_db_url)
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


def targets_notice(settings: Settings) -> str:
    """Where escalations are delivered; with none, a warning nobody can miss, because then the
    patient is told to call the clinic themselves and the clinic hears nothing."""
    if settings.targets:
        return "Escalations are delivered to: " + ", ".join(settings.targets)
    bar = "!" * 78
    return (f"{bar}\n!! NO ESCALATION TARGET IS CONFIGURED: red flags are recorded, but nobody at the clinic\n"
            f"!! is notified, and patients are told to call the clinic themselves. Set\n"
            f"!! ESCALATION_WEBHOOK_URL, ESCALATION_SMTP_HOST or ESCALATION_SMS_TO (README, Configuration).\n{bar}")


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
