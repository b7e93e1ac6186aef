"""The right hour in every calendar client, for rosters spanning years (issue 14).

Feeds and invites are read by three independent parsers (icalendar, vobject, ical.js: see
tests/calendar_parsers.py), and every event's UTC start and end must equal the database's.
"""

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.core import mail

from notifications import entries
from notifications import mail as mail_module
from notifications.models import RotationFeed
from notifications.selectors import entry_uid
from rotation.models import Person, Roster, Rotation, Shift
from rotation.services import create_roster, publish_roster
from tests.calendar_parsers import PARSERS, install_icaljs, read_all
from tests.factories import MembershipFactory, engineer, join_rotation
from tests.notifications_support import FAST_HASHERS, assignments, make_team

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
# Weekly, Monday 09:00 in each rotation's zone, every week of 2027 and 2028: each spring and
# autumn change of London, New York and Sydney in both years falls inside a shift.
PERIOD = (date(2026, 12, 28), date(2029, 1, 1))
ROTATION_ZONES = ("Europe/London", "America/New_York", "Australia/Sydney")
PEOPLE_ZONES = ("Asia/Kolkata", "America/Los_Angeles", "Pacific/Auckland", "UTC", "Europe/Berlin")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(scope="session")
def icaljs():
    """ical.js under node, installed into tests/js/node_modules when missing."""
    return install_icaljs()


def personal_url(user) -> str:
    user.person.refresh_from_db()
    return f"/calendar/{user.person.feed_token}.ics"


def team_url(rotation) -> str:
    feed, _ = RotationFeed.objects.get_or_create(rotation=rotation)
    return f"/calendar/rotations/{feed.token}.ics"


def check_against(calendars: list[tuple[str, bytes, dict]]) -> Counter:
    """Every calendar through every parser; returns the events checked per parser.

    ``calendars`` holds (label, body, {UID: (UTC start, UTC end)} from the database)."""
    readings = read_all([body for _, body, _ in calendars])
    checked: Counter = Counter()
    problems = []
    for parser in PARSERS:
        for (label, _, expected), parsed in zip(calendars, readings[parser], strict=True):
            if parsed.events.keys() != expected.keys():
                problems.append(
                    f"{parser}, {label}: UIDs differ "
                    f"(missing {sorted(expected.keys() - parsed.events.keys())[:3]}, "
                    f"extra {sorted(parsed.events.keys() - expected.keys())[:3]})"
                )
                continue
            wrong = sorted(
                (expected[uid][0], uid, got)
                for uid, got in parsed.events.items()
                if got != expected[uid]
            )
            if wrong:
                first_start, uid, got = wrong[0]
                problems.append(
                    f"{parser}, {label}: {len(wrong)} of {len(expected)} events at the wrong "
                    f"time, from {first_start:%Y-%m-%d %H:%M}Z on, e.g. {uid}: "
                    f"{got[0]:%Y-%m-%d %H:%M}Z-{got[1]:%Y-%m-%d %H:%M}Z, database "
                    f"{expected[uid][0]:%Y-%m-%d %H:%M}Z-{expected[uid][1]:%Y-%m-%d %H:%M}Z"
                )
            checked[parser] += len(expected)
    assert not problems, "\n".join(problems)
    return checked


def _times(shift: Shift) -> tuple[datetime, datetime]:
    return shift.start.astimezone(UTC), shift.end.astimezone(UTC)


def _calendar_parts(message) -> tuple[object, object]:
    """(the inline text/calendar alternative, the invite.ics attachment or None)."""
    return _calendar_parts_of(message.message())


def _calendar_parts_of(parsed) -> tuple[object, object]:
    inline = [
        p for p in parsed.walk() if p.get_content_type() == "text/calendar" and not p.get_filename()
    ]
    attached = [p for p in parsed.walk() if p.get_filename() == "invite.ics"]
    assert len(inline) == 1 and len(attached) <= 1, [p["Content-Type"] for p in parsed.walk()]
    return inline[0], (attached or [None])[0]


@pytest.fixture
def two_years(django_capture_on_commit_callbacks):
    """Three rotations (London, New York, Sydney) over 2027 and 2028, people elsewhere."""
    with time_machine.travel(NOW):
        setups = [
            make_team(4, pattern=Rotation.Pattern.WEEKLY, time_zone=zone, prefix=f"z{number}")
            for number, zone in enumerate(ROTATION_ZONES)
        ]
        # On call in all three rotations, so their own feed carries all three zones.
        everywhere = engineer(setups[0].team, username="everywhere", first_name="Eve")
        for setup in setups:
            if setup is not setups[0]:
                MembershipFactory(team=setup.team, user=everywhere)
            join_rotation(setup.rotation, everywhere)
            setup.people.append(everywhere)
        people = sorted({u.pk: u for s in setups for u in s.people}.values(), key=lambda u: u.pk)
        for number, user in enumerate(people):
            Person.objects.filter(user=user).update(
                time_zone=PEOPLE_ZONES[number % len(PEOPLE_ZONES)]
            )
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            for setup in setups:
                roster = create_roster(
                    setup.rotation,
                    *PERIOD,
                    by=setup.boss,
                    assignments=assignments(setup.rotation, setup.people, *PERIOD, 0),
                )
                # Eve's overlapping shifts in three rotations are on purpose (her own feed
                # carries three zones): chosen by override, as a manager would.
                Shift.objects.filter(roster=roster, assignee=everywhere).update(overridden=True)
                publish_roster(roster, by=setup.boss)
    return setups, people


def test_feeds_and_invites_over_two_years_give_every_parser_the_databases_hours(
    client, icaljs, two_years
):
    setups, people = two_years
    shifts = list(
        Shift.objects.filter(roster__status=Roster.Status.PUBLISHED).select_related(
            "roster__rotation"
        )
    )
    assert {s.roster.rotation.time_zone for s in shifts} == set(ROTATION_ZONES)
    assert min(s.start for s in shifts).year == 2026 and max(s.end for s in shifts).year == 2029
    # The weeks over a change are an hour short or long, in both years, in every zone.
    for zone in ROTATION_ZONES:
        lengths = Counter(
            (s.start.year, (s.end - s.start) / timedelta(hours=1))
            for s in shifts
            if s.roster.rotation.time_zone == zone
        )
        assert all(lengths[(year, 167.0)] and lengths[(year, 169.0)] for year in (2027, 2028))

    calendars = []
    with time_machine.travel(NOW):
        for user in people:
            body = client.get(personal_url(user)).content
            mine = {entry_uid(s.pk, user.pk): _times(s) for s in shifts if s.assignee_id == user.pk}
            assert mine
            calendars.append((f"personal feed of {user.username}", body, mine))
        for setup in setups:
            body = client.get(team_url(setup.rotation)).content
            theirs = {
                entry_uid(s.pk): _times(s) for s in shifts if s.roster.rotation == setup.rotation
            }
            calendars.append((f"team feed of {setup.rotation.time_zone}", body, theirs))
    everyone = next(body for label, body, _ in calendars if label.endswith("everywhere"))
    assert all(f"TZID:{zone}".encode() in everyone for zone in ROTATION_ZONES)

    by_uid = {entry_uid(s.pk, s.assignee_id): _times(s) for s in shifts}
    invites = [m for m in mail.outbox if m.subject.startswith("Invitation:")]
    assert len(invites) == len(shifts)
    parts = [_calendar_parts(message) for message in invites]
    for inline, _ in parts:
        body = inline.get_payload(decode=True)
        (uid,) = [
            line.removeprefix(b"UID:").decode()
            for line in body.splitlines()
            if line.startswith(b"UID:")
        ]
        calendars.append((f"invite for {uid}", body, {uid: by_uid[uid]}))

    checked = check_against(calendars)
    events = sum(len(expected) for _, _, expected in calendars)
    # 13 personal feeds, 3 team feeds and 630 invites: each of the 630 slots three times.
    assert (len(calendars), events) == (646, 3 * 630)
    assert checked == dict.fromkeys(PARSERS, events)

    # RFC 6047: the invitation is text/calendar with its METHOD, inline and as invite.ics.
    for inline, attached in parts:
        assert attached is not None, "no invite.ics attachment"
        for part in (inline, attached):
            assert part.get_content_type() == "text/calendar", part["Content-Type"]
            assert part.get_param("method") == "REQUEST"
            assert part.get_content_charset() == "utf-8"
        assert attached.get_content_disposition() == "attachment"
        assert attached.get_payload(decode=True) == inline.get_payload(decode=True)


def test_a_feed_with_no_events_is_a_calendar_every_parser_accepts(client, icaljs):
    setup = make_team(2, pattern=Rotation.Pattern.WEEKLY, time_zone="Australia/Sydney")
    someone, nobody = setup.people
    Person.objects.filter(user=someone).update(time_zone="America/New_York")
    Person.objects.filter(user=nobody).update(time_zone="UTC")
    bodies = [
        client.get(personal_url(someone)).content,
        client.get(personal_url(nobody)).content,
        client.get(team_url(setup.rotation)).content,
    ]
    for body, zone in zip(bodies, ("America/New_York", "UTC", "Australia/Sydney"), strict=True):
        assert b"BEGIN:VEVENT" not in body
        assert f"TZID:{zone}\r\n".encode() in body
    readings = read_all(bodies)
    for parser in PARSERS:
        for parsed in readings[parser]:
            assert parsed.events == {}, parser
            # RFC 5545: a VCALENDAR has at least one component.
            assert parsed.components == ("VTIMEZONE",), (parser, parsed.components)
    assert check_against([("empty", body, {}) for body in bodies]) == Counter()


# --------------------------------------------------------------------------- any span


def _entry(number: int, zone: str, start: datetime) -> entries.ShiftEntry:
    return entries.ShiftEntry(
        uid=f"span-{number}@onehand",
        sequence=0,
        rotation_name="Payments",
        team_name="Platform",
        role="primary",
        start=start.astimezone(UTC),
        end=(start + timedelta(hours=4)).astimezone(UTC),
        time_zone=zone,
        attendee=entries.Contact("Alice", "alice@example.com"),
        partner=None,
        escalation=(),
        organizer_email="onehand@example.com",
        shift_url="https://oncall.example.com/shifts/1/",
        cant_make_it_url="",
    )


SPANS = {
    # Rules in force for years, over the current rule's whole life.
    "Europe/London": (2026, 2031),
    "Australia/Sydney": (2026, 2031),
    "Europe/Dublin": (2026, 2029),  # DST below standard time in tzdata ("negative DST")
    "Australia/Lord_Howe": (2026, 2028),  # half an hour of DST
    "Pacific/Chatham": (2026, 2028),  # +12:45 and +13:45
    "Asia/Kolkata": (2026, 2029),  # no DST at all
    # Rules changing inside the span: explicit history before the current rule.
    "America/New_York": (2005, 2010),  # 2007: second Sunday in March, first in November
    "America/Sao_Paulo": (2016, 2021),  # no more DST after February 2019
    "Africa/Casablanca": (2024, 2027),  # an hour less during Ramadan, dates move each year
}


@pytest.mark.parametrize("zone", list(SPANS))
def test_vtimezones_hold_for_any_span_of_years(zone, icaljs):
    """One feed and one invite per month of the span, 09:00-13:00 on the 15th, local."""
    first, last = SPANS[zone]
    tz = ZoneInfo(zone)
    shifts = [
        _entry(number, zone, datetime(year, month, 15, 9, tzinfo=tz))
        for number, (year, month) in enumerate(
            (year, month) for year in range(first, last + 1) for month in range(1, 13)
        )
    ]
    now = datetime(first, 1, 1, tzinfo=UTC)
    feed = entries.build_calendar(
        [entries.build_event(s, now=now) for s in shifts],
        method=None,
        name="span",
        time_zones=[zone],
    )
    expected = {s.uid: (s.start, s.end) for s in shifts}
    calendars = [(f"{zone} feed", feed, expected)] + [
        (f"{zone} invite {s.uid}", entries.invite(s, now=now), {s.uid: expected[s.uid]})
        for s in shifts
    ]
    checked = check_against(calendars)
    assert checked == dict.fromkeys(PARSERS, 2 * len(shifts))
    assert b"RDATE" not in feed


# --------------------------------------------------------------------------- shapes


def _vtimezone_of(zone: str, first: int, last: int):
    """The VTIMEZONE of a calendar with one event a month in [first, last]."""
    tz = ZoneInfo(zone)
    shifts = [
        _entry(n, zone, datetime(first + n // 12, n % 12 + 1, 15, 9, tzinfo=tz))
        for n in range(12 * (last - first + 1))
    ]
    now = datetime(first, 1, 1, tzinfo=UTC)
    body = entries.build_calendar(
        [entries.build_event(s, now=now) for s in shifts], method=None, name="x", time_zones=[]
    )
    (vtimezone,) = icalendar.Calendar.from_ical(body).timezones
    return [
        (
            part.name,
            part["DTSTART"].dt,
            part["RRULE"].to_ical().decode() if "RRULE" in part else None,
        )
        for part in vtimezone.subcomponents
    ]


def test_a_zone_with_one_rule_is_the_yearly_rrule_pair_clients_export_themselves():
    assert _vtimezone_of("Europe/London", 2027, 2028) == [
        ("DAYLIGHT", datetime(2026, 3, 29, 1), "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"),
        ("STANDARD", datetime(2026, 10, 25, 2), "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
    ]
    assert _vtimezone_of("America/New_York", 2027, 2028) == [
        ("DAYLIGHT", datetime(2026, 3, 8, 2), "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
        ("STANDARD", datetime(2026, 11, 1, 2), "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
    ]
    assert _vtimezone_of("Australia/Sydney", 2027, 2028) == [
        ("STANDARD", datetime(2026, 4, 5, 3), "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4"),
        ("DAYLIGHT", datetime(2026, 10, 4, 2), "FREQ=YEARLY;BYDAY=1SU;BYMONTH=10"),
    ]
    assert _vtimezone_of("Asia/Kolkata", 2027, 2028) == [("STANDARD", datetime(2026, 1, 1), None)]


def test_older_rules_and_stopped_changes_are_one_sub_component_per_change():
    new_york = _vtimezone_of("America/New_York", 2006, 2008)
    # 2005 and 2006 under the old rule (first Sunday in April, last in October), then 2007's.
    assert new_york == [
        ("DAYLIGHT", datetime(2005, 4, 3, 2), None),
        ("STANDARD", datetime(2005, 10, 30, 2), None),
        ("DAYLIGHT", datetime(2006, 4, 2, 2), None),
        ("STANDARD", datetime(2006, 10, 29, 2), None),
        ("DAYLIGHT", datetime(2007, 3, 11, 2), "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
        ("STANDARD", datetime(2007, 11, 4, 2), "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
    ]
    # Brazil stopped DST in 2019: no rule runs on, every change stands alone.
    sao_paulo = _vtimezone_of("America/Sao_Paulo", 2017, 2020)
    assert {rule for _, _, rule in sao_paulo} == {None}
    assert sao_paulo[-1] == ("STANDARD", datetime(2019, 2, 17, 0), None)


@pytest.mark.parametrize("cancelled", [False, True])
def test_invite_ics_is_text_calendar_with_the_method_and_charset(cancelled):
    entry = _entry(1, "Europe/London", datetime(2027, 3, 22, 9, tzinfo=ZoneInfo("Europe/London")))
    entry = replace(entry, cancelled=cancelled)
    method = "CANCEL" if cancelled else "REQUEST"
    message = mail_module.invite_message(
        entry, to="alice@example.com", delivery_id=1, is_update=False, now=NOW
    ).message()
    inline, attached = _calendar_parts_of(message)
    for part in (inline, attached):
        assert part.get_content_type() == "text/calendar"
        assert part.get_param("method") == method
        assert part.get_content_charset() == "utf-8"
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_filename() == "invite.ics"
    body = attached.get_payload(decode=True)
    assert body == inline.get_payload(decode=True)
    assert f"METHOD:{method}\r\n".encode() in body
    assert not [p for p in message.walk() if p.get_content_type() == "application/ics"]


# --------------------------------------------------------------------------- repeated hours


def _handoff(number: int, zone: str, start: datetime, end: datetime) -> entries.ShiftEntry:
    return replace(
        _entry(number, zone, start), start=start.astimezone(UTC), end=end.astimezone(UTC)
    )


def _local_fold(zone: str, wall: datetime, fold: int) -> datetime:
    return wall.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


# Instants whose local wall time is in an hour the zone repeats: (zone, local wall time).
REPEATED = [
    # Lord Howe moves back half an hour: 01:45 happens at 14:45Z and at 15:15Z.
    ("Australia/Lord_Howe", datetime(2027, 4, 4, 1, 45)),
    ("Europe/London", datetime(2027, 10, 31, 1, 0)),
    ("Europe/London", datetime(2027, 10, 31, 1, 30)),
    ("America/New_York", datetime(2027, 11, 7, 1, 30)),
]


@pytest.mark.parametrize(("zone", "wall"), REPEATED)
@pytest.mark.parametrize("fold", [0, 1])
def test_a_handoff_in_a_repeated_hour_reads_the_same_in_every_parser(zone, wall, fold, icaljs):
    """Shifts ending and starting at either occurrence of a repeated local time."""
    handoff = _local_fold(zone, wall, fold)
    shifts = [
        _handoff(1, zone, handoff - timedelta(hours=8), handoff),
        _handoff(2, zone, handoff, handoff + timedelta(hours=8)),
    ]
    now = datetime(2027, 1, 1, tzinfo=UTC)
    feed = entries.build_calendar(
        [entries.build_event(s, now=now) for s in shifts],
        method=None,
        name="handoff",
        time_zones=[zone],
    )
    expected = {s.uid: (s.start, s.end) for s in shifts}
    calendars = [(f"{zone} feed", feed, expected)] + [
        (f"{zone} invite {s.uid}", entries.invite(s, now=now), {s.uid: expected[s.uid]})
        for s in shifts
    ]
    assert check_against(calendars) == dict.fromkeys(PARSERS, 4)
    # The ambiguous instant is written in UTC; the other ends keep the zone's local time.
    assert f"DTSTART:{handoff:%Y%m%dT%H%M%S}Z".encode() in feed
    assert f"DTEND:{handoff:%Y%m%dT%H%M%S}Z".encode() in feed
    assert f"DTSTART;TZID={zone}:".encode() in feed


def test_a_follow_the_sun_shift_starting_in_the_second_london_one_oclock_is_written_in_utc():
    start = datetime(2027, 10, 31, 1, tzinfo=UTC)  # 01:00 GMT, the second 01:00 in London
    event = entries.build_event(
        _handoff(1, "Europe/London", start, start + timedelta(hours=8)),
        now=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert event["DTSTART"].to_ical() == b"20271031T010000Z"
    assert icalendar.Event.from_ical(event.to_ical())["DTSTART"].dt == start
    # A time that is not repeated keeps the zone (clients show it as local time).
    assert event["DTEND"].params["TZID"] == "Europe/London"


def test_a_normal_hour_keeps_the_zones_local_time():
    start = datetime(2027, 10, 30, 1, tzinfo=UTC)  # 02:00 BST the day before
    event = entries.build_event(
        _handoff(1, "Europe/London", start, start + timedelta(hours=8)),
        now=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event["DTSTART"].to_ical() == b"20271030T020000"
