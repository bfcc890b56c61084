"""SMS outreach from a CSV of appointments: an invitation before the visit, a check-in after it.

    python -m commands.outreach invite appointments.csv [--rate 1] [--now ISO]
    python -m commands.outreach follow-up appointments.csv [--rate 1] [--now ISO]
"""
import argparse
import sys
from datetime import datetime, timezone
from typing import List, Optional
from zoneinfo import ZoneInfo

from botox_clinic import outreach
from botox_clinic.settings import get_settings
from channels.sms_format import plain_text


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.outreach", description=outreach.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["invite", "follow-up"])
    parser.add_argument("csv")
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second (default 1)")
    parser.add_argument("--now", help="treat this ISO time as now (for planning and tests)")
    args = parser.parse_args(argv)
    settings = get_settings()
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(settings.clinic.timezone))
    kind = outreach.INVITE if args.kind == "invite" else outreach.FOLLOW_UP
    # Sent as the SMS channel sends its replies: plain, in GSM-7 where the folding allows.
    return outreach.run(kind, args.csv, args.rate, now, settings, as_sms=plain_text)


if __name__ == "__main__":
    sys.exit(main())
