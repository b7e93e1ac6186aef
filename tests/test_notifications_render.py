"""The fast paths of calendar rendering say byte for byte what icalendar says."""

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from icalendar.parser import Contentline

from notifications import entries

NOW = datetime(2031, 2, 1, tzinfo=UTC)
# Escapes (backslash, caret) next to fold points, multi-byte characters, quotes and separators.
TEXT = st.text(
    alphabet=st.sampled_from(list('ab \\^,;:"=\t') + ["é", "€", "😀", "\u00a0"]), max_size=400
)


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_folding_matches_icalendar(line):
    assert entries._fold(line) == Contentline(line).to_ical()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab\\^")), min_size=60, max_size=400))
def test_folding_matches_icalendar_around_escapes(line):
    assert entries._fold(line) == Contentline(line).to_ical()


def _entry(number: int, zone: str, name: str) -> entries.ShiftEntry:
    return entries.ShiftEntry(
        uid=f"shift-{number}-person-7@onehand.example.com",
        sequence=number,
        rotation_name=f"Payments {name}",
        team_name="Platform; Payments, EU",
        role="primary",
        start=datetime(2031, 3, number, 9, tzinfo=UTC),
        end=datetime(2031, 3, number + 1, 9, tzinfo=UTC),
        time_zone=zone,
        attendee=entries.Contact(name, "alice@example.com", "+44 20 7946 0000"),
        partner=entries.Contact("Bøb Bäker", "bob@example.com", "+44 1"),
        escalation=(
            entries.Contact("Erin Evans", "erin@example.com", "+44 2", "mentor"),
            entries.Contact("Lee \\ Lead", "lee@example.com", "", "lead"),
        ),
        organizer_email="onehand@example.com",
        shift_url="https://onehand.example.com/rotations/1/?month=2031-03",
        cant_make_it_url="https://onehand.example.com/shifts/1/cant-make-it/?t=" + "x" * 90,
        runbook_url="https://wiki.example.com/runbooks/payments",
    )


def test_a_calendar_is_what_icalendar_itself_writes():
    events = [
        entries.build_event(_entry(n, zone, name), now=NOW)
        for n, (zone, name) in enumerate(
            [
                ("Europe/London", "Alice Archer"),
                ("America/New_York", "Ålice Ärcher " * 5),
                ("Asia/Kolkata", "爱丽丝"),
                ("UTC", "Alice ^ Caret"),
            ],
            start=1,
        )
    ]
    body = entries.build_calendar(events, method=None, name="On call: Alice", time_zones=[])
    parsed = Calendar.from_ical(body)
    assert sorted(str(tz["TZID"]) for tz in parsed.walk("VTIMEZONE")) == [
        "America/New_York",
        "Asia/Kolkata",
        "Europe/London",
    ]
    # The same calendar, serialised by icalendar itself.
    calendar = Calendar.from_ical(body)
    assert calendar.to_ical() == body
    assert entries._serialise(calendar) == body

    plain = Calendar()
    for event in events:
        plain.add_component(event)
    assert entries._used_tzids(events) == plain.get_used_tzids()
    assert entries._used_tzids(events) == {"Europe/London", "America/New_York", "Asia/Kolkata"}
