"""python -m inbox: the clinician inbox on CLINIC_INBOX_HOST:CLINIC_INBOX_PORT (127.0.0.1:8081)."""
import logging

import waitress

from botox_clinic.settings import get_settings
from inbox.app import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    app = create_app(settings)
    logging.getLogger("inbox").info("Clinician inbox on http://%s:%d/", settings.inbox.host, settings.inbox.port)
    # Threads, not processes: the login rate limits are counted in this process, and every open
    # inbox page holds a thread for its live updates.
    waitress.serve(app, host=settings.inbox.host, port=settings.inbox.port, threads=settings.inbox.threads,
                   ident="clinic-inbox")


if __name__ == "__main__":
    main()
