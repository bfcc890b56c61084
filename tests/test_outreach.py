"""SMS outreach end to end, over the Twilio stand-in and the running assistant: invitations,
replies answered in context, the GUIDE walkthrough by SMS, opt-outs, re-runs and bad rows; Spanish
rows, and the appointments' language in the records database."""
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import ROOT
from test_twilio_sms import sent_to, text, wait_for

from botox_clinic import records
from botox_clinic.appointments import Appointment, AppointmentStore
from botox_clinic.outreach import FOLLOW_UP, INVITE, mask, message_for, normalise_phone
from channels.sms_format import MAX_SEGMENTS, is_gsm7, plain_text, segments

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

    [invite] = sent_to(assistant, ana)
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
    status, output = _outreach(assistant, "follow-up", path)
    assert "1 sent" in output and "line 3: not sent: visit not yet over" in output, output
    [check_in] = sent_to(assistant, phone)
    assert "How are you feeling" in check_in and "911" in check_in
    text(assistant, phone, "my eyelid is drooping and i'm seeing double")
    wait_for(assistant, phone, "call Demo Botox Clinic today")
    [escalation] = [e for e, _ in assistant.escalations.list() if e.sender_id == phone]
    assert escalation.tier == "urgent" and escalation.channel == "twilio"


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
    [invite] = sent_to(assistant, sofia)
    assert invite == ("Hola, Sofia: su cita de Botox en Demo Botox Clinic es el lunes 23 de noviembre a la 1:30 p. m. "
                      "Escribanos sus preguntas, o GUIA para saber qué esperar. Responda STOP para darse de baja.")
    assert "es el miércoles 25 de noviembre a las 10:05 a. m. Escribanos" in sent_to(assistant, luis)[0]
    [english] = sent_to(assistant, ana)
    assert english.startswith("Hi Ana, this is Demo Botox Clinic. Your Botox appointment is on Monday 23 November at "
                              "2:30 PM. Reply")
    for body in sent_to(assistant, sofia) + sent_to(assistant, luis) + [english]:
        assert is_gsm7(body) and segments(body) <= MAX_SEGMENTS, body
    store = AppointmentStore(assistant.records_db_url)
    assert [store.language_for(phone) for phone in (sofia, luis, ana)] == ["es", "es", "en"]

    status, output = _outreach(assistant, "follow-up", _csv(tmp_path, [f"{marta},Marta,2026-11-19 15:00,medical,es"]))
    assert status == 0 and "1 sent" in output and "not available" not in output, output
    [check_in] = sent_to(assistant, marta)
    assert check_in.startswith("Hola, Marta: ¿como se siente tras su Botox en Demo Botox Clinic?")
    assert "llame ya al 911" in check_in and "STOP" in check_in and is_gsm7(check_in)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", [INVITE, FOLLOW_UP])
def test_the_longest_outreach_texts_stay_within_three_segments_as_sent(settings, kind, language):
    """The longest weekday and month with a 10:30 time, a long and an accented name, measured after the
    SMS channel's plain_text as commands/outreach.py sends them."""
    for name in ("Alexandria", "Sofía"):
        appointment = Appointment("+15550304101", name, datetime(2026, 9, 30, 10, 30, tzinfo=ZoneInfo("America/New_York")),
                                  "cosmetic", language)
        body = plain_text(message_for(kind, appointment, settings()))
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
