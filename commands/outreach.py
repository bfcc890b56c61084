"""SMS outreach from a CSV of appointments: an invitation before the visit, check-ins after it.

    python -m commands.outreach invite appointments.csv [--rate 1] [--now ISO]
    python -m commands.outreach check-ins visits.csv [--rate 1] [--now ISO]   # hourly, e.g. from cron

`follow-up` is the old name of `check-ins`, still accepted.
"""
import argparse
import sys
from datetime import datetime, timezone
from typing import List, Optional
from zoneinfo import ZoneInfo

from botox_clinic import outreach
from botox_clinic.settings import get_settings
from channels.sms_format import plain_text

KINDS = {"invite": outreach.INVITE, "check-ins": outreach.CHECK_INS, "follow-up": outreach.CHECK_INS}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.outreach", description=outreach.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=list(KINDS))
    parser.add_argument("csv")
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second (default 1)")
    parser.add_argument("--now", help="treat this ISO time as now (for planning and tests)")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:  # e.g. a typo in clinic/settings.yml's outreach section
        parser.exit(2, f"outreach: {exc}\n")
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(settings.clinic.timezone))
    # Sent as the SMS channel sends its replies: plain, in GSM-7 where the folding allows.
    return outreach.run(KINDS[args.kind], args.csv, args.rate, now, settings, as_sms=plain_text)


if __name__ == "__main__":
    sys.exit(main())
