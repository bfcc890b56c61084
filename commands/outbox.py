"""Deliver recorded escalations to the clinic, at least once, and show what is undelivered.

    python -m commands.outbox run          # the delivery worker (started by `make run`)
    python -m commands.outbox run --once   # one pass, then exit
    python -m commands.outbox list [--undelivered]  # with each escalation's policy: paged, next page
    python -m commands.outbox targets      # where escalations go; loud when nowhere (`make run` calls it)
"""
import argparse
import logging
import sys

from botox_clinic import outbox
from botox_clinic.escalations import EscalationStore
from botox_clinic.settings import get_settings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.outbox", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="deliver pending escalations and page again by the escalation policy")
    run_parser.add_argument("--once", action="store_true", help="one pass, then exit")
    list_parser = sub.add_parser("list", help="list escalations, their delivery and escalation policy state")
    list_parser.add_argument("--undelivered", action="store_true", help="only those not yet delivered everywhere")
    sub.add_parser("targets", help="say where escalations are delivered, loudly when nowhere")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    if args.command == "run":
        outbox.run(settings, once=args.once)
    elif args.command == "targets":
        print(outbox.targets_notice(settings))
    else:
        outbox.print_list(EscalationStore(settings.records_db_url), settings, args.undelivered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
