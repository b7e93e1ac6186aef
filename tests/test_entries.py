"""notifications.entries: iCalendar entries for on-call shifts.

Plain pytest, no Django. Instants are checked with icalendar and, independently,
with vobject (which reads the VTIMEZONE through dateutil's tzical). Expected UTC
instants are written out by hand, not computed with zoneinfo.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from notifications.entries import (
    PRODID,
    Contact,
    ShiftEntry,
    build_calendar,
    build_event,
    describe,
    invite,
)

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

ALICE = Contact("Alice Archer", "alice@example.com", "+44 20 7946 0001", "primary")
BOB = Contact("Bob Baker", "bob@example.com", "+44 20 7946 0002", "secondary")
CAROL = Contact("Carol Chen", "carol@example.com", "+1 212 555 0103", "secondary")
DAN = Contact("Dan Diaz", "dan@example.com", "+1 212 555 0104", "mentor")
ERIN = Contact("Erin Evans", "erin@example.com", "+61 2 5550 0105", "lead")


def make_entry(**changes) -> ShiftEntry:
    entry = ShiftEntry(
        uid="shift-42-person-7@onehand",
        sequence=0,
        rotation_name="Payments",
        team_name="Platform",
        role="primary",
        start=datetime(2026, 3, 23, 9, tzinfo=UTC),
        end=datetime(2026, 3, 23, 17, tzinfo=UTC),
        time_zone="Europe/London",
        attendee=ALICE,
        partner=BOB,
        escalation=(CAROL, DAN, ERIN),
        organizer_email="onehand@example.com",
        shift_url="https://onehand.example.com/shifts/42",
        cant_make_it_url="https://onehand.example.com/s/cant/42.7.sig",
        runbook_url="https://wiki.example.com/runbooks/payments",
    )
    return replace(entry, **changes)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (zone, UTC start, UTC end, local DTSTART, local DTEND); every shift starts at 09:00 local.
# 2026 changes: London 29 Mar / 25 Oct, New York 8 Mar / 1 Nov, Sydney 5 Apr (ends) / 4 Oct.
SHIFTS = {
    # Europe/London: GMT +0, BST +1
    "london-mon-before-spring": (
        "Europe/London",
        utc(2026, 3, 23, 9),
        utc(2026, 3, 23, 17),
        "20260323T090000",
        "20260323T170000",
    ),
    "london-mon-after-spring": (
        "Europe/London",
        utc(2026, 3, 30, 8),
        utc(2026, 3, 30, 16),
        "20260330T090000",
        "20260330T170000",
    ),
    "london-week-over-spring": (
        "Europe/London",
        utc(2026, 3, 23, 9),
        utc(2026, 3, 30, 8),
        "20260323T090000",
        "20260330T090000",
    ),
    "london-mon-before-autumn": (
        "Europe/London",
        utc(2026, 10, 19, 8),
        utc(2026, 10, 19, 16),
        "20261019T090000",
        "20261019T170000",
    ),
    "london-mon-after-autumn": (
        "Europe/London",
        utc(2026, 10, 26, 9),
        utc(2026, 10, 26, 17),
        "20261026T090000",
        "20261026T170000",
    ),
    "london-week-over-autumn": (
        "Europe/London",
        utc(2026, 10, 19, 8),
        utc(2026, 10, 26, 9),
        "20261019T090000",
        "20261026T090000",
    ),
    # America/New_York: EST -5, EDT -4
    "new-york-mon-before-spring": (
        "America/New_York",
        utc(2026, 3, 2, 14),
        utc(2026, 3, 2, 22),
        "20260302T090000",
        "20260302T170000",
    ),
    "new-york-mon-after-spring": (
        "America/New_York",
        utc(2026, 3, 9, 13),
        utc(2026, 3, 9, 21),
        "20260309T090000",
        "20260309T170000",
    ),
    "new-york-week-over-spring": (
        "America/New_York",
        utc(2026, 3, 2, 14),
        utc(2026, 3, 9, 13),
        "20260302T090000",
        "20260309T090000",
    ),
    "new-york-mon-before-autumn": (
        "America/New_York",
        utc(2026, 10, 26, 13),
        utc(2026, 10, 26, 21),
        "20261026T090000",
        "20261026T170000",
    ),
    "new-york-mon-after-autumn": (
        "America/New_York",
        utc(2026, 11, 2, 14),
        utc(2026, 11, 2, 22),
        "20261102T090000",
        "20261102T170000",
    ),
    "new-york-week-over-autumn": (
        "America/New_York",
        utc(2026, 10, 26, 13),
        utc(2026, 11, 2, 14),
        "20261026T090000",
        "20261102T090000",
    ),
    # Asia/Kolkata: IST +5:30, no DST
    "kolkata-week": (
        "Asia/Kolkata",
        utc(2026, 3, 23, 3, 30),
        utc(2026, 3, 30, 3, 30),
        "20260323T090000",
        "20260330T090000",
    ),
    # Australia/Sydney: AEDT +11 (southern summer), AEST +10
    "sydney-week-over-dst-end": (
        "Australia/Sydney",
        utc(2026, 3, 29, 22),
        utc(2026, 4, 5, 23),
        "20260330T090000",
        "20260406T090000",
    ),
    "sydney-week-over-dst-start": (
        "Australia/Sydney",
        utc(2026, 9, 27, 23),
        utc(2026, 10, 4, 22),
        "20260928T090000",
        "20261005T090000",
    ),
}

WEEKS_OVER_A_CHANGE = {
    "london-week-over-spring": 167,
    "london-week-over-autumn": 169,
    "new-york-week-over-spring": 167,
    "new-york-week-over-autumn": 169,
    "sydney-week-over-dst-end": 169,
    "sydney-week-over-dst-start": 167,
    "kolkata-week": 168,
}


def shift_invite(case: str) -> bytes:
    zone, start, end, _, _ = SHIFTS[case]
    return invite(make_entry(time_zone=zone, start=start, end=end), now=NOW)


def content_lines(data: bytes) -> list[str]:
    """Unfolded content lines."""
    return data.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").decode().split("\r\n")[:-1]


def ical_event(data: bytes) -> icalendar.Event:
    (event,) = icalendar.Calendar.from_ical(data).walk("VEVENT")
    return event


def vobject_event(data: bytes):
    return vobject.readOne(data.decode()).vevent


# --------------------------------------------------------------------------- times


@pytest.mark.parametrize("case", SHIFTS)
def test_start_and_end_are_written_as_local_wall_time_in_the_rotation_zone(case):
    zone, _, _, local_start, local_end = SHIFTS[case]
    lines = content_lines(shift_invite(case))
    assert f"DTSTART;TZID={zone}:{local_start}" in lines
    assert f"DTEND;TZID={zone}:{local_end}" in lines


@pytest.mark.parametrize("case", SHIFTS)
def test_icalendar_reads_back_the_utc_instants(case):
    _, start, end, _, _ = SHIFTS[case]
    event = ical_event(shift_invite(case))
    assert (event.start, event.end) == (start, end)


@pytest.mark.parametrize("case", SHIFTS)
def test_vobject_reads_back_the_same_utc_instants(case):
    _, start, end, _, _ = SHIFTS[case]
    event = vobject_event(shift_invite(case))
    assert event.dtstart.value == start
    assert event.dtend.value == end


@pytest.mark.parametrize("case", SHIFTS)
def test_vtimezone_alone_gives_the_utc_instants(case):
    """Read the local times through the VTIMEZONE itself, not the IANA name."""
    _, start, end, local_start, local_end = SHIFTS[case]
    data = shift_invite(case)
    from_vtimezone = [
        vobject.readOne(data.decode()).vtimezone.gettzinfo(),  # dateutil tzical
        icalendar.Calendar.from_ical(data).timezones[0].to_tz(lookup_tzid=False),
    ]
    for tz in from_vtimezone:
        got = [
            datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=tz).astimezone(UTC)
            for text in (local_start, local_end)
        ]
        assert got == [start, end], tz


@pytest.mark.parametrize("case", WEEKS_OVER_A_CHANGE)
def test_week_from_monday_0900_to_monday_0900_has_167_or_169_hours(case):
    data = shift_invite(case)
    hours = WEEKS_OVER_A_CHANGE[case]
    ical, vobj = ical_event(data), vobject_event(data)
    # Subtract in UTC: two datetimes sharing a tzinfo subtract as wall-clock times.
    assert ical.end.astimezone(UTC) - ical.start.astimezone(UTC) == timedelta(hours=hours)
    assert vobj.dtend.value.astimezone(UTC) - vobj.dtstart.value.astimezone(UTC) == timedelta(
        hours=hours
    )


@pytest.mark.parametrize(
    "zone", ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
)
def test_vtimezone_for_the_rotation_zone_comes_before_the_event(zone):
    lines = content_lines(invite(make_entry(time_zone=zone), now=NOW))
    assert lines.count("BEGIN:VTIMEZONE") == 1
    assert f"TZID:{zone}" in lines
    assert lines.index(f"TZID:{zone}") < lines.index("BEGIN:VEVENT")


def test_utc_rotation_uses_z_times_and_no_vtimezone():
    data = invite(make_entry(time_zone="UTC"), now=NOW)
    lines = content_lines(data)
    assert "DTSTART:20260323T090000Z" in lines
    assert "BEGIN:VTIMEZONE" not in lines


def test_dtstamp_is_now_in_utc():
    now = datetime(2026, 2, 1, 13, 30, tzinfo=ZoneInfo("Europe/Paris"))  # CET, +1
    event = build_event(make_entry(), now=now)
    assert event.to_ical().decode().count("DTSTAMP:20260201T123000Z") == 1


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError):
        build_event(make_entry(), now=datetime(2026, 2, 1, 12))
    with pytest.raises(ValueError):
        build_event(make_entry(start=datetime(2026, 3, 23, 9)), now=NOW)


# --------------------------------------------------------------------------- description


def test_description_names_the_role_and_local_times():
    text = describe(make_entry())
    assert "You are on call as primary for Payments (team Platform)." in text
    assert "When: Mon 23 Mar 2026 09:00 – Mon 23 Mar 2026 17:00 GMT (Europe/London)" in text


def test_description_names_the_partner_with_phone_and_email():
    text = describe(make_entry())
    assert "Partner: Bob Baker (secondary), phone +44 20 7946 0002, email bob@example.com" in text


def test_description_lists_the_escalation_chain_in_order_with_phones():
    lines = describe(make_entry()).splitlines()
    start = lines.index("Escalation, in order:")
    assert lines[start + 1 : start + 4] == [
        "1. Carol Chen (secondary), phone +1 212 555 0103, email carol@example.com",
        "2. Dan Diaz (mentor), phone +1 212 555 0104, email dan@example.com",
        "3. Erin Evans (lead), phone +61 2 5550 0105, email erin@example.com",
    ]


def test_description_has_cant_make_it_runbook_and_shift_links():
    lines = describe(make_entry()).splitlines()
    assert "Can't make it? https://onehand.example.com/s/cant/42.7.sig" in lines
    assert "Runbook: https://wiki.example.com/runbooks/payments" in lines
    assert "Shift: https://onehand.example.com/shifts/42" in lines


def test_description_is_the_event_description():
    entry = make_entry(window_label="EMEA 08:00-16:00")
    assert str(ical_event(invite(entry, now=NOW))["DESCRIPTION"]) == describe(entry)


def test_window_label_is_in_summary_and_description():
    entry = make_entry(window_label="EMEA 08:00-16:00")
    assert (
        str(build_event(entry, now=NOW)["SUMMARY"])
        == "On call: Payments, primary (EMEA 08:00-16:00)"
    )
    assert "Window: EMEA 08:00-16:00" in describe(entry).splitlines()


def test_shadow_entry_partner_is_the_primary():
    entry = make_entry(
        role="shadow", attendee=Contact("Sam Shadow", "sam@example.com"), partner=ALICE
    )
    assert (
        "Shadowing: Alice Archer (primary), phone +44 20 7946 0001, email alice@example.com"
        in describe(entry).splitlines()
    )
    partner = ical_event(invite(entry, now=NOW))["X-ONEHAND-PARTNER"]
    assert partner == "mailto:alice@example.com"
    assert partner.params["X-ONEHAND-ROLE"] == "primary"


# --------------------------------------------------------------------------- event properties


def test_summary_status_transp_url():
    event = ical_event(invite(make_entry(), now=NOW))
    assert str(event["SUMMARY"]) == "On call: Payments, primary"
    assert event["STATUS"] == "CONFIRMED"
    assert event["TRANSP"] == "OPAQUE"
    assert event["URL"] == "https://onehand.example.com/shifts/42"


def test_uid_is_stable_and_sequence_is_as_given():
    first = ical_event(invite(make_entry(sequence=0), now=NOW))
    moved = make_entry(sequence=5, start=utc(2026, 3, 24, 9), end=utc(2026, 3, 24, 17))
    second = ical_event(invite(moved, now=NOW + timedelta(days=1)))
    assert first["UID"] == second["UID"] == "shift-42-person-7@onehand"
    assert (first["SEQUENCE"], second["SEQUENCE"]) == (0, 5)


def test_structured_x_properties():
    event = ical_event(invite(make_entry(), now=NOW))
    assert str(event["X-ONEHAND-ROLE"]) == "primary"
    partner = event["X-ONEHAND-PARTNER"]
    assert (partner, partner.params["CN"], partner.params["X-ONEHAND-PHONE"]) == (
        "mailto:bob@example.com",
        "Bob Baker",
        "+44 20 7946 0002",
    )
    chain = sorted(event["X-ONEHAND-ESCALATION"], key=lambda p: int(p.params["X-ONEHAND-ORDER"]))
    assert [(str(p), p.params["X-ONEHAND-ROLE"], p.params["X-ONEHAND-PHONE"]) for p in chain] == [
        ("mailto:carol@example.com", "secondary", "+1 212 555 0103"),
        ("mailto:dan@example.com", "mentor", "+1 212 555 0104"),
        ("mailto:erin@example.com", "lead", "+61 2 5550 0105"),
    ]


def test_no_alarm():
    assert "BEGIN:VALARM" not in content_lines(invite(make_entry(), now=NOW))


# --------------------------------------------------------------------------- iTIP


def test_request_invite_has_method_organizer_and_attendee():
    data = invite(make_entry(sequence=2), now=NOW)
    calendar = icalendar.Calendar.from_ical(data)
    event = ical_event(data)
    assert calendar["METHOD"] == "REQUEST"
    assert event["ORGANIZER"] == "mailto:onehand@example.com"
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:alice@example.com"
    assert {k: attendee.params[k] for k in ("CN", "ROLE", "PARTSTAT", "RSVP")} == {
        "CN": "Alice Archer",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "FALSE",
    }
    # RFC 5546 REQUEST: ATTENDEE, DTSTAMP, DTSTART, ORGANIZER, SEQUENCE, SUMMARY, UID
    for name in ("DTSTAMP", "DTSTART", "SEQUENCE", "SUMMARY", "UID"):
        assert name in event


def test_cancel_invite_has_method_cancel_and_status_cancelled():
    data = invite(make_entry(sequence=3, cancelled=True), now=NOW)
    calendar = icalendar.Calendar.from_ical(data)
    event = ical_event(data)
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == "shift-42-person-7@onehand"
    assert event["SEQUENCE"] == 3
    assert event["ORGANIZER"] == "mailto:onehand@example.com"
    assert event["ATTENDEE"] == "mailto:alice@example.com"
    assert describe(make_entry(cancelled=True)).startswith("Cancelled:")


def test_feed_calendar_has_no_method_and_one_vtimezone_per_zone():
    events = [
        build_event(make_entry(uid="a@onehand"), now=NOW),
        build_event(make_entry(uid="b@onehand", time_zone="Asia/Kolkata"), now=NOW),
        build_event(make_entry(uid="c@onehand"), now=NOW),
    ]
    data = build_calendar(
        events, method=None, name="Payments on call", time_zones=["Europe/London", "Asia/Kolkata"]
    )
    calendar = icalendar.Calendar.from_ical(data)
    assert "METHOD" not in calendar
    assert calendar["PRODID"] == PRODID
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert str(calendar["X-WR-CALNAME"]) == "Payments on call"
    assert sorted(tz.tz_name for tz in calendar.timezones) == ["Asia/Kolkata", "Europe/London"]
    assert len(calendar.walk("VEVENT")) == 3
    assert len(vobject.readOne(data.decode()).vevent_list) == 3


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError):
        build_calendar([], method="PUBLISHX", name="x", time_zones=[])


# --------------------------------------------------------------------------- hostile text

EVIL = (
    'Mallory\r\nATTENDEE:mailto:evil@x\r\nX-INJECTED:1 <script>alert("x")</script>, a; b \\ ^'
    "\nCan't make it? https://evil.example"
)
EVIL_AS_TEXT = (
    'Mallory ATTENDEE:mailto:evil@x X-INJECTED:1 <script>alert("x")</script>, a; b \\ ^'
    " Can't make it? https://evil.example"
)


def hostile_entry() -> ShiftEntry:
    evil_contact = Contact(EVIL, "mallory@example.com", EVIL, EVIL)
    return make_entry(
        rotation_name=EVIL,
        team_name=EVIL,
        window_label=EVIL,
        attendee=evil_contact,
        partner=evil_contact,
        escalation=(evil_contact, CAROL),
    )


def test_hostile_names_do_not_create_extra_properties():
    data = invite(hostile_entry(), now=NOW)
    lines = content_lines(data)
    names = [line.split(":", 1)[0].split(";", 1)[0] for line in lines]
    assert "X-INJECTED" not in names
    assert names.count("ATTENDEE") == 1
    assert not any(line.startswith(("ATTENDEE:", "Can't")) for line in lines)
    assert isinstance(ical_event(data)["ATTENDEE"], icalendar.vCalAddress)  # one, not a list
    vevent = vobject_event(data)
    assert len(vevent.contents["attendee"]) == 1
    assert "x-injected" not in vevent.contents


def test_hostile_names_round_trip_as_text():
    data = invite(hostile_entry(), now=NOW)
    event = ical_event(data)
    assert str(event["SUMMARY"]) == f"On call: {EVIL_AS_TEXT}, primary ({EVIL_AS_TEXT})"
    assert vobject_event(data).summary.value == str(event["SUMMARY"])
    assert event["ATTENDEE"].params["CN"] == EVIL_AS_TEXT
    assert event["X-ONEHAND-PARTNER"].params["X-ONEHAND-PHONE"] == EVIL_AS_TEXT
    assert str(icalendar.Calendar.from_ical(data)["X-WR-CALNAME"]) == EVIL_AS_TEXT


def test_hostile_names_cannot_add_lines_to_the_description():
    text = describe(hostile_entry())
    assert sum(line.startswith("Can't make it?") for line in text.splitlines()) == 1
    assert f"1. {EVIL_AS_TEXT} ({EVIL_AS_TEXT}), phone {EVIL_AS_TEXT}" in text
    assert "\r" not in text


@pytest.mark.parametrize(
    "email", ["evil@x\r\nATTENDEE:mailto:evil2@x", "evil@x\nX: 1", "", "not an address"]
)
def test_unusable_email_is_rejected(email):
    with pytest.raises(ValueError):
        invite(make_entry(attendee=Contact("Eve", email)), now=NOW)


# --------------------------------------------------------------------------- wire format


def test_lines_end_with_crlf_and_fold_at_75_octets():
    long = "Zoë 🚨 李小龍 Ørsted-Ñúñez " * 6
    entry = make_entry(
        rotation_name=long, attendee=Contact(long, "alice@example.com"), window_label=long
    )
    data = invite(entry, now=NOW)
    assert data.endswith(b"\r\n")
    physical = data.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(physical) and b"\r" not in b"".join(physical)
    assert max(len(line) for line in physical) <= 75
    assert any(line.startswith(b" ") for line in physical)  # something was folded
    for line in physical:
        line.decode("utf-8")  # no multi-byte character split across a fold
    assert str(ical_event(data)["ATTENDEE"].params["CN"]) == long.strip()
