"""Opening hours (clinic/settings.yml, parsed in botox_clinic/settings.py): when a patient asking for
a person gets a handoff request, in the clinic's time zone, and how the hours read to a patient."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from test_handoff import clinic_settings_file

from botox_clinic.handoff import describe_hours
from botox_clinic.settings import ClinicSettings, load_clinic, load_opening_hours

WEEKDAYS_9_TO_5 = {day: "09:00-17:00" for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
NEW_YORK = ZoneInfo("America/New_York")


def _clinic(hours, tz="America/New_York") -> ClinicSettings:
    return ClinicSettings("Demo Botox Clinic", "(555) 010-0199", "911", tz,
                          opening_hours=load_opening_hours(hours, "test"))


def _at(*args, tz=NEW_YORK) -> datetime:
    return datetime(*args, tzinfo=tz)


@pytest.mark.parametrize("when, open_", [
    (_at(2026, 12, 7, 9, 0), True),     # Monday, opening
    (_at(2026, 12, 7, 8, 59), False),
    (_at(2026, 12, 7, 16, 59), True),
    (_at(2026, 12, 7, 17, 0), False),   # closing time is closed
    (_at(2026, 12, 12, 11, 0), False),  # Saturday
])
def test_open_within_each_days_hours(when, open_):
    assert _clinic(WEEKDAYS_9_TO_5).is_open(when) is open_


def test_hours_are_the_clinics_local_time_whatever_the_clock_says():
    clinic = _clinic(WEEKDAYS_9_TO_5)
    assert clinic.is_open(datetime(2026, 12, 7, 14, 30, tzinfo=timezone.utc)) is True   # 09:30 in New York
    assert clinic.is_open(datetime(2026, 12, 7, 13, 30, tzinfo=timezone.utc)) is False  # 08:30 in New York
    assert clinic.is_open(datetime(2026, 7, 6, 13, 30, tzinfo=timezone.utc)) is True    # 09:30 EDT in July
    mondays = _clinic({"monday": "00:00-24:00"})
    assert mondays.is_open(datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)) is False  # Sunday 22:00 there
    assert mondays.is_open(datetime(2026, 12, 8, 3, 0, tzinfo=timezone.utc)) is True   # Monday 22:00 there

def test_a_day_may_have_several_ranges_and_run_to_midnight():
    clinic = _clinic({"wednesday": "09:00-12:00, 13:00-17:00", "sunday": "00:00-24:00"})
    assert clinic.is_open(_at(2026, 12, 9, 11, 59)) and not clinic.is_open(_at(2026, 12, 9, 12, 30))
    assert clinic.is_open(_at(2026, 12, 9, 13, 0)) and clinic.is_open(_at(2026, 12, 13, 23, 59))


def test_without_hours_the_clinic_is_never_open_for_a_handoff():
    assert load_opening_hours(None, "test") is None and load_opening_hours({}, "test") is None
    assert _clinic(None).is_open(_at(2026, 12, 7, 10, 0)) is False


@pytest.mark.parametrize("hours, problem", [
    ({"mondya": "09:00-17:00"}, "unknown day"),
    ({"monday": "9-5"}, "HH:MM-HH:MM"),
    ({"monday": 540}, "quoted"),  # YAML's reading of an unquoted 9:00
    ({"monday": "17:00-09:00"}, "end after start"),
    ({"monday": "09:00-25:00"}, "at most 24:00"),
    ({"monday": "09:75-10:00"}, "not a time range"),
    ({"monday": "closed"}, "every day is closed"),
    ("09:00-17:00", "must map weekdays"),
])
def test_a_mistake_in_the_hours_stops_the_process(hours, problem):
    with pytest.raises(ValueError, match=problem):
        load_opening_hours(hours, "clinic/settings.yml: opening_hours")


def test_the_hours_read_as_runs_of_days():
    assert describe_hours(load_opening_hours(WEEKDAYS_9_TO_5, "test")) == "Monday to Friday 09:00-17:00"
    mixed = {"monday": "09:00-17:00", "tuesday": "09:00-17:00", "thursday": "09:00-12:00, 13:00-17:00",
             "saturday": "10:00-13:00", "sunday": "10:00-13:00"}
    assert describe_hours(load_opening_hours(mixed, "test")) == (
        "Monday, Tuesday 09:00-17:00; Thursday 09:00-12:00, 13:00-17:00; Saturday, Sunday 10:00-13:00")


def test_the_clinic_file_sets_the_hours_and_the_seen_notice(tmp_path):
    path = clinic_settings_file(tmp_path / "clinic.yml", opening_hours={"friday": "08:30-12:00"},
                                tell_patient_when_seen=True)
    clinic = load_clinic(str(path))
    assert clinic.opening_hours.days[4] == ((510, 720),) and clinic.tell_patient_when_seen is True
    with pytest.raises(ValueError, match="tell_patient_when_seen"):
        load_clinic(str(clinic_settings_file(tmp_path / "bad.yml", tell_patient_when_seen="yes please")))
    unset = clinic_settings_file(tmp_path / "unset.yml")
    unset.write_text(unset.read_text().replace("tell_patient_when_seen: false\n", ""))
    assert load_clinic(str(unset)).tell_patient_when_seen is False
