"""The key that signs the inbox's session cookies when CLINIC_INBOX_SECRET_KEY is unset: generated
once into var/ (never the repository), readable by its owner only, and the same after a restart so
that clinicians stay logged in."""
import os
import secrets
import tempfile
from pathlib import Path


def stored_secret_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".inbox_secret_key.")  # mode 600
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(48))
            # A link is atomic and never replaces: of two processes starting at once, one key wins.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text(encoding="utf-8").strip()
