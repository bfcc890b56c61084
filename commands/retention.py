"""Delete conversations inactive for more than N days (escalation records are kept).

    python -m commands.retention [--days N] [--endpoints endpoints.yml]     # `make retention`

N defaults to retention_days in the clinic settings file. The tracker store named in the endpoints
file must be ours (components/tracker_store.py), which does the deleting.
"""
import argparse
import time
from typing import Optional

from botox_clinic.settings import get_settings


def _open_configured_store(endpoints: str):
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path

    from components.tracker_store import PrivacyAwareSQLTrackerStore

    store = TrackerStore.create(read_endpoints_from_path(endpoints).tracker_store)
    if not isinstance(store, PrivacyAwareSQLTrackerStore):
        raise SystemExit(f"{endpoints}: tracker_store is {type(store).__name__}, "
                         f"not components.tracker_store.PrivacyAwareSQLTrackerStore")
    return store


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m commands.retention", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=None,
                        help="default: retention_days in the clinic settings file")
    parser.add_argument("--endpoints", default="endpoints.yml")
    args = parser.parse_args(argv)
    days = args.days if args.days is not None else get_settings().clinic.retention_days
    if days <= 0:
        raise SystemExit("--days must be positive")
    store = _open_configured_store(args.endpoints)
    deleted = store.delete_inactive_since(time.time() - days * 86400)
    print(f"deleted {deleted} conversation(s) inactive for more than {days:g} days")


if __name__ == "__main__":
    main()
