"""SMS outreach end to end, over the Twilio stand-in and the running assistant: invitations,
replies answered in context, the GUIDE walkthrough by SMS, opt-outs, re-runs and bad rows; Spanish
rows, and the appointments' language in the records database. The check-in schedule over the Twilio
stand-in alone with a controlled clock (--now): each check-in once, in its window and sending hours,
opt-outs, the first-text notice once per number, Spanish; and the outreach settings' checks."""
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import ROOT
from receivers import TwilioApiStandIn
from test_twilio_sms import sent_to, text, wait_for

from botox_clinic import records
from botox_clinic.appointments import Appointment, AppointmentStore
from botox_clinic.outreach import FOLLOW_UP, INVITE, mask, message_for, normalise_phone, notice_for
from botox_clinic.settings import OutreachSettings, load_clinic, load_outreach
from botox_clinic.sms_state import SmsState
from channels.sms_format import MAX_SEGMENTS, is_gsm7, plain_text, segments
from commands import outreach as outreach_command

NOW = "2026-11-20T09:00:00-05:00"


def _outreach(assistant, kind, csv_path):
    env = {**os.environ, "RECORDS_DB_URL": assistant.records_db_url,
           "TWILIO_ACCOUNT_SID": assistant.twilio.account_sid, "TWILIO_AUTH_TOKEN": assistant.twilio.auth_token,
           "TWILIO_FROM_NUMBER": "+15550109999", "TWILIO_API_BASE": assistant.twilio.url,
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "commands.outreach", kind, str(csv_path), "--rate", "50",
                             "--now", NOW], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def _csv(tmp_path, rows):
    path = tmp_path / "appointments.csv"
    path.write_text("phone,first_name,appointment_time,treatment_type,language\n" + "\n".join(rows) + "\n")
    return path


def test_phone_numbers_are_normalised_to_what_twilio_reports_and_masked_in_output():
    assert normalise_phone("(555) 030-1234") == "+15550301234"
    assert normalise_phone("+44 7700 900123") == "+447700900123"
    assert normalise_phone("12345") is None and normalise_phone("call me") is None
    assert mask("+15550301234") == "+1******1234"


def test_invitations_replies_in_context_guide_opt_out_and_rerun(assistant, tmp_path):
    ana, ben, cy, opted_out = "+15550301001", "+15550301002", "+15550301003", "+15550301004"
    text(assistant, opted_out, "STOP")
    wait_for(assistant, opted_out, "unsubscribed")
    path = _csv(tmp_path, [
        f"{ana},Ana,2026-11-23 14:30,cosmetic,",
        f"{ben},Ben,2026-11-24T10:00:00-05:00,medical,fr",
        f"{cy},Cy,2026-11-25 09:15,medical,",
        f"{opted_out},Dee,2026-11-23 11:00,cosmetic,",
        "555-12,Eve,2026-11-23 11:00,cosmetic,",  # bad phone
        "+15550301006,Fay,2026-11-10 11:00,medical,",  # in the past
        "+15550301007,,2026-11-23 11:00,medical,",  # missing first name
        "+15550301008,Gus,next tuesday,medical,",  # not a date
        "+15550301009,Hal,2026-11-23 11:00,dental,",  # not a treatment type
    ])
    status, output = _outreach(assistant, "invite", path)
    assert status == 1  # some rows were bad
    assert "3 sent, 1 skipped, 5 rows not sent, 0 failed" in output, output
    for line, reason in [(6, "phone"), (7, "past"), (8, "empty first_name"), (9, "date"), (10, "treatment_type")]:
        assert any(row.startswith(f"line {line}: not sent") and reason in row for row in output.splitlines()), output
    assert "language 'fr' not available: sent in English" in output
    assert ana not in output and mask(ana) in output  # operators see masked numbers only

    [notice, invite] = sent_to(assistant, ana)  # the first text to a number says they are not encrypted
    assert "not encrypted" in notice and "Reply STOP" in notice
    assert invite.startswith("Hi Ana, this is Demo Botox Clinic. Your Botox appointment is on Monday 23 November")
    assert "reply GUIDE" in invite
    assert len(sent_to(assistant, opted_out)) == 1  # only the STOP confirmation

    # The reply continues a conversation that already knows Ana's treatment is cosmetic.
    text(assistant, ana, "how long will the results last")
    answer = "\n".join(wait_for(assistant, ana, "up to three months")[1:])
    assert "up to three months" in answer and "three to four months" not in answer

    # GUIDE by SMS: short numbered messages, to the checklist.
    text(assistant, ben, "GUIDE")
    wait_for(assistant, ben, "Part 1 of 3")
    for part in ("Part 2 of 3", "Part 3 of 3", "checklist"):
        text(assistant, ben, "1")  # "1 Next"
        wait_for(assistant, ben, part)
    bodies = sent_to(assistant, ben)
    assert "Reply with a number:\n1 Next\n2 I have a question\n3 End the guide" in "\n".join(bodies)
    assert "three to four months" in "\n".join(bodies)  # Ben's guide is the medical one

    # A second run sends nothing new.
    before = len(assistant.twilio.messages)
    status, output = _outreach(assistant, "invite", path)
    assert "0 sent, 4 skipped" in output and len(assistant.twilio.messages) == before


def test_a_follow_up_reply_with_a_red_flag_escalates(assistant, tmp_path):
    phone = "+15550302001"
    path = _csv(tmp_path, [f"{phone},Ida,2026-11-19 15:00,cosmetic,", "+15550302002,Jo,2026-11-20 08:30,cosmetic,"])
    status, output = _outreach(assistant, "follow-up", path)  # the old name of check-ins
    assert status == 0 and "1 sent" in output, output
    assert "line 3: nothing due: no check-in due yet: the first (1 day(s) after the visit) from 2026-11-21 09:00" in output
    [_notice, check_in] = sent_to(assistant, phone)
    assert "How are you feeling" in check_in and "911" in check_in
    text(assistant, phone, "my eyelid is drooping and i'm seeing double")
    # No delivery target is configured, so the patient is told to call the clinic themselves.
    reply = "\n".join(wait_for(assistant, phone, "call Demo Botox Clinic yourself today")[2:])
    [escalation] = [e for e, _ in assistant.escalations.list() if e.sender_id == phone]
    assert escalation.tier == "urgent" and escalation.channel == "twilio"
    assert "call Demo Botox Clinic yourself today" in reply and escalation.id in reply, reply


def test_a_file_without_the_required_columns_is_refused(assistant, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("mobile,name\n+15550303001,Kim\n")
    status, output = _outreach(assistant, "invite", path)
    assert status != 0 and "missing column(s) phone, first_name, appointment_time, treatment_type" in output


def test_a_spanish_row_gets_its_invitation_and_check_in_in_spanish(assistant, tmp_path):
    sofia, luis, ana, marta = "+15550304001", "+15550304002", "+15550304003", "+15550304004"
    path = _csv(tmp_path, [
        f"{sofia},Sofía,2026-11-23 13:30,cosmetic,es",
        f"{luis},Luis,2026-11-25 10:05,medical,Español",
        f"{ana},Ana,2026-11-23 14:30,cosmetic,pt-BR",  # not a language the assistant speaks
    ])
    status, output = _outreach(assistant, "invite", path)
    assert status == 0 and "3 sent" in output, output
    assert output.count("not available") == 1 and "language 'pt-BR' not available: sent in English" in output

    # In Spanish, dated in Spanish; as the SMS channel sends its replies: á, í, ó, ú folded into GSM-7.
    [notice, invite] = sent_to(assistant, sofia)
    assert notice == ("Demo Botox Clinic: tenga en cuenta que los SMS no estan cifrados; no nos envie nada que no "
                      "quiera que otros lean. Responda STOP en cualquier momento para no recibir mas.")
    assert invite == ("Hola, Sofia: su cita de Botox en Demo Botox Clinic es el lunes 23 de noviembre a la 1:30 p. m. "
                      "Escribanos sus preguntas, o GUIA para saber qué esperar. Responda STOP para darse de baja.")
    assert "es el miércoles 25 de noviembre a las 10:05 a. m. Escribanos" in sent_to(assistant, luis)[1]
    [english_notice, english] = sent_to(assistant, ana)
    assert "not encrypted" in english_notice
    assert english.startswith("Hi Ana, this is Demo Botox Clinic. Your Botox appointment is on Monday 23 November at "
                              "2:30 PM. Reply")
    for body in sent_to(assistant, sofia) + sent_to(assistant, luis) + [english]:
        assert is_gsm7(body) and segments(body) <= MAX_SEGMENTS, body
    store = AppointmentStore(assistant.records_db_url)
    assert [store.language_for(phone) for phone in (sofia, luis, ana)] == ["es", "es", "en"]

    status, output = _outreach(assistant, "follow-up", _csv(tmp_path, [f"{marta},Marta,2026-11-19 15:00,medical,es"]))
    assert status == 0 and "1 sent" in output and "not available" not in output, output
    [_notice, check_in] = sent_to(assistant, marta)
    assert check_in.startswith("Hola, Marta: ¿como se siente tras su Botox en Demo Botox Clinic?")
    assert "llame ya al 911" in check_in and "STOP" in check_in and is_gsm7(check_in)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", [INVITE, FOLLOW_UP, "check_in_7d", "notice"])
def test_the_longest_outreach_texts_stay_within_three_segments_as_sent(settings, kind, language):
    """The longest weekday and month with a 10:30 time, a long and an accented name, measured after the
    SMS channel's plain_text as commands/outreach.py sends them; also the later check-ins and the notice."""
    for name in ("Alexandria", "Sofía"):
        appointment = Appointment("+15550304101", name, datetime(2026, 9, 30, 10, 30, tzinfo=ZoneInfo("America/New_York")),
                                  "cosmetic", language)
        body = plain_text(notice_for(appointment, settings()) if kind == "notice" else
                          message_for(kind, appointment, settings()))
        assert is_gsm7(body) and segments(body) <= MAX_SEGMENTS, body
        if kind == INVITE:
            assert ("on Wednesday 30 September at 10:30 AM. Reply" if language == "en" else
                    "el miércoles 30 de septiembre a las 10:30 a. m. Escribanos") in body


def test_language_for_is_the_language_of_the_numbers_latest_appointment(tmp_path):
    store = AppointmentStore(f"sqlite:///{tmp_path / 'records.db'}")
    tz = ZoneInfo("America/New_York")
    store.remember(Appointment("+15550304201", "Eva", datetime(2026, 12, 1, 10, tzinfo=tz), "cosmetic", "es"))
    store.remember(Appointment("+15550304201", "Eva", datetime(2026, 11, 1, 10, tzinfo=tz), "cosmetic", "en"))
    store.remember(Appointment("+15550304202", "Tom", datetime(2026, 12, 1, 10, tzinfo=tz), "medical"))
    assert store.language_for("+15550304201") == "es"  # December's, not November's
    assert store.language_for("+15550304202") == "en"  # the default
    assert store.language_for("+15550304299") is None


def test_an_old_appointments_table_gets_the_language_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # the table as it was before appointments had a language
        old.execute("CREATE TABLE appointments (key VARCHAR(64) NOT NULL PRIMARY KEY, phone VARCHAR(32) NOT NULL, "
                    "first_name VARCHAR(100) NOT NULL, starts_at VARCHAR(40) NOT NULL, "
                    "treatment_type VARCHAR(16) NOT NULL)")
        old.execute("INSERT INTO appointments VALUES ('k1', '+15550304301', 'Olga', '2026-12-01T10:00:00-05:00', 'medical')")
    engine = records.engine(f"sqlite:///{path}")
    assert "language" in {c["name"] for c in sa.inspect(engine).get_columns("appointments")}
    store = AppointmentStore(f"sqlite:///{path}")
    assert store.treatment_type_for("+15550304301") == "medical" and store.language_for("+15550304301") is None
    store.remember(Appointment("+15550304302", "Pia", datetime(2026, 12, 2, 10, tzinfo=ZoneInfo("UTC")), "cosmetic", "es"))
    assert store.language_for("+15550304302") == "es"
    records._add_appointments_language(engine)  # a second run (another process starting) changes nothing
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, first_name, language FROM appointments")).all()
    assert sorted(rows, key=lambda row: row.first_name) == [("k1", "Olga", None), (rows[1].key, "Pia", "es")]


# The check-in schedule, over the Twilio stand-in alone, the command run in this process with --now.
# clinic/settings.yml: check-ins 1, 7 and 14 days after the visit, sent 09:00-20:00 New York time.
FIRST_CHECK_IN, LATER_CHECK_IN = "How are you feeling after your Botox treatment?", "checking in again"


@pytest.fixture
def sms(settings, monkeypatch):
    twilio = TwilioApiStandIn("AC" + "2" * 32, "test-twilio-token")
    for name, value in {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
                        "TWILIO_FROM_NUMBER": "+15550109999", "TWILIO_API_BASE": twilio.url}.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    try:
        yield SimpleNamespace(twilio=twilio, records_db_url=settings().records_db_url)
    finally:
        twilio.close()


def _run(capsys, kind, csv_path, now):
    status = outreach_command.main([kind, str(csv_path), "--rate", "0", "--now", now])
    return status, capsys.readouterr().out


def _kinds_sent(sms, phone):
    with records.engine(sms.records_db_url).connect() as conn:
        return sorted(conn.execute(sa.text(
            "SELECT kind FROM outreach_sent JOIN appointments ON appointments.key = appointment_key "
            "WHERE phone = :phone AND state = 'sent'"), {"phone": phone}).scalars())


def test_each_check_in_is_sent_once_in_its_window_and_sending_hours(sms, tmp_path, capsys):
    ana, bea, cai, dan = "+15550306001", "+15550306002", "+15550306003", "+15550306004"
    path = _csv(tmp_path, [
        f"{ana},Ana,2026-11-19 15:00,cosmetic,",
        f"{bea},Bea,2026-11-01 10:00,medical,",  # 14-day check-in due from 15 to 22 November
        f"{cai},Cai,2026-10-20 10:00,medical,",  # every window ended (10 November)
        f"{dan},Dan,2027-01-05 10:00,cosmetic,",  # not yet
    ])
    # (now, what each number gets in that run)
    runs = [
        ("2026-11-19T18:00-05:00", {bea: 2}),  # Bea: the notice and her 14-day check-in, not the 1- or 7-day ones late
        ("2026-11-20T08:30-05:00", {}),  # Ana's first check-in is due from 09:00 the day after
        ("2026-11-20T09:00-05:00", {ana: 2}),  # the notice and the first check-in
        ("2026-11-20T13:00-05:00", {}),
        ("2026-11-23T10:00-05:00", {}),  # the first check-in's window, already sent
        ("2026-11-26T20:30-05:00", {}),  # the 7-day one is due, but not at 20:30
        ("2026-11-27T09:15-05:00", {ana: 1}),
        ("2026-11-27T09:15-05:00", {}),  # the same time again
        ("2026-12-03T12:00-05:00", {ana: 1}),
        ("2026-12-09T12:00-05:00", {}),
        ("2026-12-30T12:00-05:00", {}),
    ]
    outputs = []
    for now, expected in runs:
        before = {phone: len(sent_to(sms, phone)) for phone in (ana, bea, cai, dan)}
        status, output = _run(capsys, "check-ins", path, now)
        outputs.append(output)
        assert status == 0, output  # nothing due is not an error: the same file runs every hour
        got = {phone: len(sent_to(sms, phone)) - n for phone, n in before.items() if len(sent_to(sms, phone)) > n}
        assert got == expected, (now, output)
    assert "line 2: nothing due: no check-in due yet: the first (1 day(s) after the visit) from 2026-11-20 09:00" \
        in outputs[0], outputs[0]
    assert "line 4: nothing due: no check-in due: the last one's time ended 2026-11-10 09:00" in outputs[0]
    assert "line 2: nothing due: check-in (7 day(s) after the visit) waits for the sending hours (09:00-20:00)" in outputs[5]
    assert "line 2 +1******6001: skipped, already sent" in outputs[3]
    assert "check-ins: 1 sent, 1 skipped, 0 rows not sent, 0 failed; 2 with nothing due now; 1 first-text notice(s) sent" \
        in outputs[2]

    notice, first, week, fortnight = sent_to(sms, ana)
    assert "not encrypted" in notice and FIRST_CHECK_IN in first
    for check_in in (week, fortnight):
        assert LATER_CHECK_IN in check_in and "weeks after it" in check_in
    for check_in in (first, week, fortnight):
        assert "If you have trouble breathing, swallowing or speaking, call 911 now." in check_in
        assert check_in.startswith("Hi Ana, this is Demo Botox Clinic") and "Reply STOP to opt out." in check_in
    assert LATER_CHECK_IN in sent_to(sms, bea)[1]
    assert _kinds_sent(sms, ana) == ["check_in_14d", "check_in_7d", "follow_up"]
    assert _kinds_sent(sms, bea) == ["check_in_14d"] and _kinds_sent(sms, cai) == _kinds_sent(sms, dan) == []


def test_a_check_in_already_sent_by_the_old_follow_up_is_not_sent_again(sms, tmp_path, capsys):
    """The day-after check-in keeps the one check-in's old kind, follow_up."""
    phone = "+15550306101"
    appointment = Appointment(phone, "Eli", datetime(2026, 11, 19, 15, tzinfo=ZoneInfo("America/New_York")), "medical")
    store = AppointmentStore(sms.records_db_url)
    store.remember(appointment)
    assert store.claim(appointment, FOLLOW_UP)
    store.mark_sent(appointment, FOLLOW_UP)
    status, output = _run(capsys, "check-ins", _csv(tmp_path, [f"{phone},Eli,2026-11-19 15:00,medical,"]),
                          "2026-11-20T10:00-05:00")
    assert status == 0 and "skipped, already sent" in output and sent_to(sms, phone) == [], output


def test_an_opted_out_number_gets_no_check_in_and_no_notice(sms, tmp_path, capsys):
    out, still_in = "+15550306201", "+15550306202"
    SmsState(sms.records_db_url).opt_out(out, "STOP")
    path = _csv(tmp_path, [f"{out},Fay,2026-11-19 15:00,cosmetic,", f"{still_in},Gil,2026-11-19 15:00,cosmetic,"])
    for now in ("2026-11-20T10:00-05:00", "2026-11-26T10:00-05:00", "2026-12-03T10:00-05:00"):
        status, output = _run(capsys, "check-ins", path, now)
        assert status == 0 and "line 2 +1******6201: skipped, opted out" in output, output
    invite = _csv(tmp_path, [f"{out},Fay,2026-12-20 15:00,cosmetic,"])
    status, output = _run(capsys, "invite", invite, "2026-11-20T10:00-05:00")
    assert "skipped, opted out" in output
    assert sent_to(sms, out) == [] and AppointmentStore(sms.records_db_url).notice_sent(out) is None
    assert len(sent_to(sms, still_in)) == 4  # the notice and three check-ins


def test_the_first_text_notice_goes_once_per_number_whatever_the_message_and_is_recorded(sms, tmp_path, capsys):
    hal, ivy = "+15550306301", "+15550306302"
    # Hal: an invitation for his next appointment, then a check-in for his last visit.
    status, output = _run(capsys, "invite", _csv(tmp_path, [f"{hal},Hal,2026-12-01 10:00,medical,"]),
                          "2026-11-20T09:30-05:00")
    assert status == 0 and "sent after the first-text notice" in output, output
    status, output = _run(capsys, "check-ins", _csv(tmp_path, [f"{hal},Hal,2026-11-19 15:00,medical,"]),
                          "2026-11-20T09:30-05:00")
    assert status == 0 and "sent follow_up" in output and "notice" not in output.split("\n")[0], output
    notice, invite, check_in = sent_to(sms, hal)
    assert notice == ("Demo Botox Clinic: please note that text messages are not encrypted, so don't send us anything "
                      "you would not want others to read. Reply STOP at any time to stop our texts.")
    assert invite.startswith("Hi Hal") and FIRST_CHECK_IN in check_in

    # Ivy: two visits in one file, each with a check-in due: one notice, before the first.
    path = _csv(tmp_path, [f"{ivy},Ivy,2026-11-19 15:00,cosmetic,", f"{ivy},Ivy,2026-11-13 11:00,cosmetic,"])
    status, output = _run(capsys, "check-ins", path, "2026-11-20T09:30-05:00")
    assert status == 0 and "2 sent" in output and "1 first-text notice(s) sent" in output, output
    bodies = sent_to(sms, ivy)
    assert len(bodies) == 3 and "not encrypted" in bodies[0] and sum("not encrypted" in b for b in bodies) == 1
    assert FIRST_CHECK_IN in bodies[1] and LATER_CHECK_IN in bodies[2]  # the first visit's day after, the other's week

    # Later runs of either kind never send it again; the record says when and before which message.
    before = len(sms.twilio.messages)
    _run(capsys, "check-ins", path, "2026-11-26T10:00-05:00")
    _run(capsys, "invite", _csv(tmp_path, [f"{hal},Hal,2026-12-15 10:00,medical,"]), "2026-11-26T10:00-05:00")
    assert [m["Body"] for m in sms.twilio.messages[before:] if "not encrypted" in m["Body"]] == []
    assert len(sms.twilio.messages) == before + 2  # Ivy's week check-in, Hal's second invitation
    store = AppointmentStore(sms.records_db_url)
    at, key, kind, recorded = store.notice_sent(hal)
    assert kind == "invite" and recorded == notice and datetime.fromisoformat(at).tzinfo is not None
    assert key == Appointment(hal, "Hal", datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("America/New_York")), "medical").key
    assert store.notice_sent(ivy)[2] == FOLLOW_UP
    with records.engine(sms.records_db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM outreach_notices")).scalar() == 2


def test_spanish_rows_get_the_notice_and_every_check_in_in_spanish(sms, tmp_path, capsys):
    phone = "+15550306401"
    path = _csv(tmp_path, [f"{phone},Sofía,2026-11-19 15:00,cosmetic,es"])
    for now in ("2026-11-20T09:00-05:00", "2026-11-26T09:00-05:00", "2026-12-03T09:00-05:00"):
        status, output = _run(capsys, "check-ins", path, now)
        assert status == 0 and "1 sent" in output, output
    notice, first, week, fortnight = sent_to(sms, phone)
    assert notice.startswith("Demo Botox Clinic: tenga en cuenta que los SMS no estan cifrados") and "STOP" in notice
    assert first.startswith("Hola, Sofia: ¿como se siente tras su Botox en Demo Botox Clinic?")
    for check_in in (week, fortnight):
        assert check_in.startswith("Hola, Sofia: ¿como sigue tras su Botox en Demo Botox Clinic? Hay sintomas que "
                                   "tardan semanas.")
    for body in (notice, first, week, fortnight):
        assert is_gsm7(body) and segments(body) <= MAX_SEGMENTS, body
    for check_in in (first, week, fortnight):
        assert "Si tiene dificultad para respirar, tragar o hablar, llame ya al 911." in check_in


def test_the_outreach_settings_default_and_are_checked(tmp_path, sms, monkeypatch, capsys):
    assert load_outreach(None, "x") == OutreachSettings() == OutreachSettings((1, 7, 14), ((540, 1200),))
    assert load_clinic(str(ROOT / "clinic/settings.yml")).outreach == OutreachSettings()
    assert load_outreach({"check_ins": [{"after_days": 2}, {"after_days": 10}], "send_hours": "08:00-21:00"},
                         "x") == OutreachSettings((2, 10), ((480, 1260),))
    for data, error in [
        ([1, 7], "x: must be a mapping"),
        ({"checkins": []}, "x: unknown key(s) checkins"),
        ({"check_ins": []}, "x.check_ins: must be a list of check-ins"),
        ({"check_ins": [{"after": "1 day"}]}, "x.check_ins[0]: must be {after_days: <whole days after the visit>}"),
        ({"check_ins": [{"after_days": 0}]}, "x.check_ins[0]: after_days must be a whole number of days from 1 to 90"),
        ({"check_ins": [{"after_days": 1.5}]}, "after_days must be a whole number"),
        ({"check_ins": [{"after_days": True}]}, "after_days must be a whole number"),
        ({"check_ins": [{"after_days": 7}, {"after_days": 7}]}, "x.check_ins[1]: after_days must be later than"),
        ({"send_hours": "closed"}, "x.send_hours: check-ins need hours"),
        ({"send_hours": "9-20"}, 'x.send_hours: expected "HH:MM-HH:MM"'),
    ]:
        with pytest.raises(ValueError, match=None) as raised:
            load_outreach(data, "x")
        assert error in str(raised.value), (data, str(raised.value))

    # The command stops at start with the clinic file's error, before sending anything.
    bad = tmp_path / "clinic.yml"
    bad.write_text((ROOT / "clinic/settings.yml").read_text().replace("{after_days: 7}", "{after_days: seven}"))
    monkeypatch.setenv("CLINIC_SETTINGS_FILE", str(bad))
    outreach_command.get_settings.cache_clear()
    with pytest.raises(SystemExit) as stopped:
        outreach_command.main(["check-ins", str(_csv(tmp_path, ["+15550306501,Jo,2026-11-19 15:00,medical,"])),
                               "--now", "2026-11-20T10:00-05:00"])
    assert stopped.value.code == 2
    assert f"{bad}: outreach.check_ins[1]: after_days must be a whole number of days from 1 to 90, got 'seven'" \
        in capsys.readouterr().err
    assert sms.twilio.messages == []
