"""The project's commands, in one place; each is `python -m commands.<name>` (`--help` for more).

- outbox     the escalation delivery worker (`run`, started by `make run`) and `list`
- outreach   SMS invitations before the visit and check-ins after it, from an appointments CSV
- retention  delete conversations inactive for longer than the clinic's retention period

The work itself is in botox_clinic/ (and, for retention, the tracker store in components/): these
modules only read arguments and call it.
"""
