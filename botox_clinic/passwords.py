"""Clinicians' passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile).

Only hashes are stored (records.clinicians.password_hash); the parameters live inside each hash, so
verifying keeps working when argon2-cffi raises its defaults.
"""
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong username takes as long as a wrong
# password and the login's timing does not tell which accounts exist.
_UNKNOWN_ACCOUNT_HASH = _hasher.hash("no such clinician")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> Optional[str]:
    """Why `password` is not acceptable for an account, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    return None


def password_matches(stored_hash: Optional[str], password: str) -> bool:
    """Whether `password` is the one `stored_hash` was made from (None: no such account, always False)."""
    try:
        return _hasher.verify(stored_hash or _UNKNOWN_ACCOUNT_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
