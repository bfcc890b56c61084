"""The clinician inbox: a staff web app of its own (`python -m inbox`, http://127.0.0.1:8081/ by
default), apart from the patient-facing servers. On-call clinicians see every escalation live,
acknowledge and resolve it, write to the patient and take the conversation over; `/summary` is the
clinic's weekly summary. Flask with Jinja2 templates, served by waitress; its data is the records
database, through botox_clinic/inbox_store.py.

    app.py       the application: configuration, cookies, CSRF, security headers, errors
    auth.py      logging in and out (rate-limited), and no page or API without a session
    views.py     the inbox, its actions, the JSON API and the summary
    live.py      GET /events: server-sent events from polling the records database
    context.py   what the views share: the store, the settings, the signed-in clinician
    forms.py     the forms (Flask-WTF: each carries its CSRF token)
    secret_key.py  the session key when CLINIC_INBOX_SECRET_KEY is unset
"""
