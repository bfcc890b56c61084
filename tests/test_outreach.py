"""SMS outreach end to end, over the Twilio stand-in and the running assistant: invitations,
replies answered in context, the GUIDE walkthrough by SMS, opt-outs, re-runs and bad rows."""
import os
import subprocess
import sys

from conftest import ROOT
from test_twilio_sms import sent_to, text, wait_for

from botox_clinic.outreach import mask, normalise_phone

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
        f"{ben},Ben,2026-11-24T10:00:00-05:00,medical,es",
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
    assert "language 'es' not available: sent in English" in output
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
