"""Clinician accounts for the staff inbox.

    python -m commands.clinicians add-clinician USERNAME --name "Display Name"   # asks for the password
    python -m commands.clinicians add-clinician USERNAME --name "..." --password-stdin < file
    python -m commands.clinicians list

Passwords have at least 12 characters and are stored as argon2id hashes only.
"""
import argparse
import getpass
import re
import sys

from botox_clinic.inbox_store import ClinicianExists, InboxStore
from botox_clinic.passwords import hash_password, password_problem
from botox_clinic.settings import get_settings

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise SystemExit("the passwords differ")
    return password


def add_clinician(store: InboxStore, username: str, display_name: str, password_from_stdin: bool) -> None:
    if not USERNAME.fullmatch(username):
        raise SystemExit("the username must be 2-64 lowercase letters, digits, '.', '_' or '-'")
    if not display_name.strip():
        raise SystemExit("--name must not be empty")
    if store.clinician(username) is not None:
        raise SystemExit(f"{username} exists already")
    password = _read_password(password_from_stdin)
    problem = password_problem(password)
    if problem:
        raise SystemExit(problem)
    try:
        store.add_clinician(username, display_name.strip(), hash_password(password))
    except ClinicianExists:
        raise SystemExit(f"{username} exists already") from None
    print(f"added {username}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.clinicians", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-clinician", help="make an account for the inbox")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the name colleagues see")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("list", help="list the accounts: username, name, created, active")
    args = parser.parse_args(argv)
    store = InboxStore(get_settings().records_db_url)
    if args.command == "add-clinician":
        add_clinician(store, args.username, args.name, args.password_stdin)
    else:
        for clinician in store.clinicians():
            print("\t".join([clinician.username, clinician.display_name, clinician.created_at,
                             "active" if clinician.active else "inactive"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
