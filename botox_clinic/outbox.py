"""Deliver recorded escalations to the clinic, at least once, page again by the escalation policy
until a clinician acknowledges, and show what is undelivered.

    python -m commands.outbox run          # the delivery worker (started by `make run`)
    python -m commands.outbox run --once   # one pass, then exit
    python -m commands.outbox list [--undelivered]

The worker is its own process, separate from the action server: it picks up whatever is due in
the store, including work left by a crashed or restarted process, and retries failures with
exponential backoff (capped, never given up: an undelivered escalation stays visible in `list`).
Each pass also issues the policy's pages that have come due (clinic/settings.yml,
escalation_policy) as new deliveries. It keeps no state between passes, and takes the time from
an injectable clock, so the policy is tested without waiting for it.
"""
from __future__ import annotations

import logging
import math
import random
import signal
import time
from typing import Callable, Optional, Sequence, Tuple

from botox_clinic.escalations import (
    CANCELLED,
    DELIVERED,
    PAGED,
    TAKEN_ACTIONS,
    Delivery,
    Escalation,
    EscalationEvent,
    EscalationStore,
    parse_delivery_name,
)
from botox_clinic.notifications import SENDERS, Page
from botox_clinic.records import iso_time
from botox_clinic.settings import BACKUP, PageStep, Settings
from botox_clinic.twilio import DeliveryError

log = logging.getLogger("escalation.outbox")

Clock = Callable[[], float]  # seconds since the epoch, as time.time
# The audit log's note on a backup page sent to the on-call targets (the page's text says it too).
BACKUP_MISSING_NOTE = "backup not configured, paging on-call again"


def backoff_seconds(attempts: int, settings: Settings) -> float:
    """Exponential backoff with jitter: base, 2*base, 4*base... capped at the maximum."""
    delay = min(settings.retry_max_seconds, settings.retry_base_seconds * (2 ** attempts))
    return delay * random.uniform(0.8, 1.0)


def run_pass(store: EscalationStore, settings: Settings, clock: Clock = time.time) -> int:
    """One pass of the worker: issue the pages that came due, then deliver; returns how many were
    delivered. Issuing first sends a page in the pass that finds it due."""
    issue_due_pages(store, settings, clock())
    return deliver_due(store, settings, clock)


def issue_due_pages(store: EscalationStore, settings: Settings, now: float) -> int:
    """Issue every due step of the policy for each unacknowledged escalation, oldest step first, so
    a worker that was down issues each step it missed once; returns how many were issued."""
    if not settings.targets:
        return 0  # nobody was paged in the first place: the patient was told to call the clinic
    issued = 0
    for tier, steps in settings.clinic.escalation_policy.items():
        if len(steps) > 1:
            for escalation, names in store.awaiting_pages(tier, last_step=len(steps) - 1):
                issued += _issue_due_steps(store, settings, escalation, names, steps, now)
    return issued


def _issue_due_steps(store: EscalationStore, settings: Settings, escalation: Escalation, names: Sequence[str],
                     steps: Sequence[PageStep], now: float) -> int:
    issued_steps = {parse_delivery_name(name)[1] for name in names}
    issued = 0
    for number, step in enumerate(steps[1:], start=1):
        if escalation.created_timestamp + step.after_minutes * 60 > now:
            break
        if number in issued_steps:
            continue
        backup_missing = step.role == BACKUP and not settings.backup_targets
        targets = list(settings.targets_for(step.role))
        if not store.issue_page(escalation.id, number, step.role, targets, now,
                                note=BACKUP_MISSING_NOTE if backup_missing else None):
            break  # acknowledged meanwhile, or another worker issued it; the next pass looks again
        issued += 1
        log.info("escalation %s: step %d issued, %s via %s", escalation.id, number, step.role, ", ".join(targets))
    return issued


def deliver_due(store: EscalationStore, settings: Settings, clock: Clock = time.time) -> int:
    """One pass over due deliveries; returns how many were delivered."""
    return sum(_deliver(store, settings, delivery, clock)
               for delivery in store.claim_due(settings.outbox_lease_seconds, now=clock()))


def _deliver(store: EscalationStore, settings: Settings, delivery: Delivery, clock: Clock) -> bool:
    target_name, step = parse_delivery_name(delivery.target)
    if step and store.acknowledged(delivery.escalation_id):
        # A repeat is for an escalation nobody has taken; one still due (e.g. retrying) is dropped.
        store.mark_cancelled(delivery.escalation_id, delivery.target)
        log.info("escalation %s: %s not sent, acknowledged", delivery.escalation_id, delivery.target)
        return False
    escalation = store.get(delivery.escalation_id)
    addressed = _address(settings, escalation, delivery.target, clock()) if escalation else None
    if addressed is None:
        error = "escalation record missing" if escalation is None else "target no longer configured"
        store.mark_failed_attempt(delivery.escalation_id, delivery.target, error, clock() + settings.retry_max_seconds)
        log.error("escalation %s to %s: %s", delivery.escalation_id, delivery.target, error)
        return False
    page, target = addressed
    try:
        SENDERS[target_name](target, escalation, page)
    except DeliveryError as exc:
        retry_at = clock() + backoff_seconds(delivery.attempts, settings)
        store.mark_failed_attempt(delivery.escalation_id, delivery.target, str(exc), retry_at)
        log.warning("escalation %s to %s failed (attempt %d): %s", escalation.id, delivery.target,
                    delivery.attempts + 1, exc)
        return False
    store.mark_delivered(delivery.escalation_id, delivery.target)
    log.info("escalation %s delivered to %s", escalation.id, delivery.target)
    return True


def _address(settings: Settings, escalation: Escalation, name: str, now: float) -> Optional[Tuple[Page, object]]:
    """The page a delivery row sends and the configured target it goes to; None when the policy
    step or the target is no longer configured."""
    target_name, step = parse_delivery_name(name)
    steps = settings.clinic.page_steps(escalation.tier)
    if step >= len(steps):
        return None
    role = steps[step].role
    target = settings.targets_for(role).get(target_name)
    if target is None:
        return None
    minutes = int((now - escalation.created_timestamp) // 60)
    return Page(name, step, role, minutes, backup_missing=role == BACKUP and not settings.backup_targets), target


def run(settings: Settings, once: bool = False, store: Optional[EscalationStore] = None) -> None:
    store = store or EscalationStore(settings.records_db_url)
    if not settings.targets:
        log.warning("no escalation targets configured: escalations are recorded but nobody is notified")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    log.info("outbox worker started; targets: %s", ", ".join(settings.targets) or "none")
    while not stopping:
        run_pass(store, settings)
        if once:
            break
        time.sleep(settings.outbox_poll_seconds)


def targets_notice(settings: Settings) -> str:
    """Where escalations are delivered; with none, a warning nobody can miss, because then the
    patient is told to call the clinic themselves and the clinic hears nothing."""
    if settings.targets:
        backup = ", ".join(settings.backup_targets) or "not configured (backup pages go to the on-call targets)"
        return f"Escalations are delivered to: {', '.join(settings.targets)}; backup: {backup}"
    bar = "!" * 78
    return (f"{bar}\n!! NO ESCALATION TARGET IS CONFIGURED: red flags are recorded, but nobody at the clinic\n"
            f"!! is notified, and patients are told to call the clinic themselves. Set\n"
            f"!! ESCALATION_WEBHOOK_URL, ESCALATION_SMTP_HOST or ESCALATION_SMS_TO (README, Configuration).\n{bar}")


def print_list(store: EscalationStore, settings: Settings, undelivered_only: bool, clock: Clock = time.time) -> None:
    rows = store.list(undelivered_only=undelivered_only)
    if not rows:
        print("no undelivered escalations" if undelivered_only else "no escalations")
    for escalation, ds in rows:
        in_step_order = sorted(ds, key=lambda d: parse_delivery_name(d.target)[::-1])
        states = ", ".join(_delivery_state(d) for d in in_step_order) or "no targets configured"
        print(f"{escalation.id}  {escalation.created_at}  {escalation.tier:<9}  {escalation.channel:<8}  "
              f"{', '.join(escalation.symptoms)}  [{states}]")
        if ds:
            print("    " + policy_state(escalation, store.events(escalation.id),
                                        settings.clinic.page_steps(escalation.tier), clock()))


def _delivery_state(d: Delivery) -> str:
    if d.state == DELIVERED:
        return f"{d.target}: {d.state} after {d.attempts} attempt(s)"
    if d.state == CANCELLED:
        return f"{d.target}: {d.state}, acknowledged before it was sent"
    return f"{d.target}: {d.state}, {d.attempts} failed attempt(s)" + (f" ({d.last_error})" if d.last_error else "")


def policy_state(escalation: Escalation, events: Sequence[EscalationEvent], steps: Sequence[PageStep],
                 now: float) -> str:
    """One line on the escalation policy, from the escalation's audit log: the steps issued, and
    what comes next."""
    issued = sorted({event.detail["step"] for event in events if event.action == PAGED})
    if not issued:
        return "policy: not paged by it (recorded before the escalation policy)"
    paged = "paged " + ", ".join(_step_label(steps[i]) for i in issued if i < len(steps))
    if any(event.action in TAKEN_ACTIONS for event in events):
        return f"policy: {paged}; acknowledged, no more pages"
    waiting = [i for i in range(len(steps)) if i not in issued]
    if not waiting:
        return f"policy: {paged}; every page issued, still unacknowledged"
    following = steps[waiting[0]]
    due = escalation.created_timestamp + following.after_minutes * 60
    return f"policy: {paged}; next {_step_label(following)} ({iso_time(due)}, {_due_in(due, now)})"


def _step_label(step: PageStep) -> str:
    return f"{step.role} at {step.after_minutes:g} min"


def _due_in(due: float, now: float) -> str:
    if due > now:
        return f"in {math.ceil((due - now) / 60)} min"
    if now - due < 60:
        return "due now"
    # More than a poll late: the worker is not running.
    return f"overdue by {int((now - due) // 60)} min: is the worker running?"
