"""The clinic's domain, shared by every process: the Rasa server (components/, channels/), the action
server (actions/) and the commands (commands/).

Nothing here imports Rasa or its SDK (tests/test_layout.py checks it), so each process can use it and
a test can exercise it without a model or a server.

- settings       all configuration: the clinic settings file and the environment
- paths          where the project's files and build outputs are
- records        the clinic records database: one engine per process, one timestamp format
- red_flags      the deterministic red-flag detector over clinic/red_flags.yml
- red_flag_model the learned red-flag detector, and how the two decide together
- red_flag_corpus the red-flag corpus (corpora/red_flags/) and its seeded held-out part
- escalations    escalation records and their delivery rows (the outbox)
- twilio         the one Twilio Messages API client (async, with a blocking face)
- notifications  sending one escalation to one clinic target (webhook, email, SMS)
- outbox         the delivery worker's pass over due deliveries, and the listing
- sms_state      SMS opt-outs and the numbered choices last offered
- appointments   appointments known from outreach, and which outreach messages went out
- outreach       reading an appointments CSV and sending invitations and check-ins
- messages       the message catalogue: every patient-facing sentence that is not a Rasa response
- slots          names of the slots that more than one process reads or writes
"""
