"""The fast serialisation of entries (parameters serialised once per distinct set, each
VTIMEZONE serialised once) writes what icalendar itself writes for the same calendar.

The reference is the previous path: the VTIMEZONEs inserted as subcomponents and the whole
calendar serialised by icalendar's own ``to_ical``. Plain pytest, no Django.
"""

import random
from dataclasses import replace
from datetime import UTC, datetime

import icalendar
import pytest
import vobject
from icalendar.parser.content_line import Contentline

from notifications import entries
from notifications.entries import Contact, build_event, invite
from tests.test_entries import CAROL, EVIL, NOW, hostile_entry, make_entry

# London's clocks go back on 25 Oct 2026: a shift from Saturday 09:00 BST to Monday 09:00 GMT
# spans the change (49 hours).
DST_SPANNING = make_entry(
    start=datetime(2026, 10, 24, 8, tzinfo=UTC), end=datetime(2026, 10, 26, 9, tzinfo=UTC)
)


def icalendar_path(entry: entries.ShiftEntry, *, now: datetime = NOW) -> bytes:
    """An invite the way entries.invite wrote it before: icalendar serialises everything."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", entries.PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "CANCEL" if entry.cancelled else "REQUEST")
    calendar.add(
        "X-WR-CALNAME",
        icalendar.vText(entries._line(entry.rotation_name)),
        parameters={"VALUE": "TEXT"},
    )
    event = build_event(entry, now=now)
    calendar.add_component(event)
    if not icalendar.is_utc(entries._zone(entry.time_zone)):
        first, last = entries._year_span([event])
        calendar.subcomponents.insert(0, entries._vtimezone(entry.time_zone, first, last))
    return calendar.to_ical()


CASES = {
    "dst-spanning": DST_SPANNING,
    "cancelled": replace(DST_SPANNING, cancelled=True, sequence=3),
    "new-york": replace(DST_SPANNING, time_zone="America/New_York"),
    "sydney": replace(DST_SPANNING, time_zone="Australia/Sydney"),
    "utc": replace(DST_SPANNING, time_zone="UTC"),
    "hostile": hostile_entry(),
    "long-unicode": make_entry(
        rotation_name='Zoë 🚨 李小龍 Ørsted-Ñúñez; "quoted" \\ back ' * 4,
        attendee=Contact('Zoë "Z" Ørsted, ^caret^', "zoe@example.com", "+44 ^1"),
        window_label="EMEA 08:00-16:00",
        escalation=(CAROL, Contact(EVIL, "mallory@example.com", EVIL, "lead")),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_writes_what_icalendar_writes(case):
    assert invite(CASES[case], now=NOW) == icalendar_path(CASES[case])


def test_many_invites_in_a_row_each_write_what_icalendar_writes():
    # The caches must never hand one invite another's parameters or zone.
    for n, zone in enumerate(["Europe/London", "America/New_York", "Europe/London", "UTC"] * 3):
        entry = replace(
            DST_SPANNING,
            time_zone=zone,
            sequence=n,
            attendee=Contact(f"Person {n}", f"p{n}@example.com", f"+44 {n}"),
        )
        assert invite(entry, now=NOW) == icalendar_path(entry)


def test_feed_without_events_carries_its_zone_like_icalendar():
    data = entries.build_calendar(
        [], method=None, name="Empty", time_zones=["Europe/Paris"], years=(2026, 2027)
    )
    calendar = icalendar.Calendar()
    calendar.add("PRODID", entries.PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("X-WR-CALNAME", icalendar.vText("Empty"), parameters={"VALUE": "TEXT"})
    calendar.add_component(entries._vtimezone("Europe/Paris", 2026, 2027))
    assert data == calendar.to_ical()


def _icalendar_reading(data: bytes) -> tuple:
    event = icalendar.Calendar.from_ical(data).walk("VEVENT")[0]
    return (
        event["DTSTART"].dt.astimezone(UTC),
        event["DTEND"].dt.astimezone(UTC),
        str(event["SUMMARY"]),
        str(event["DESCRIPTION"]),
        str(event["ATTENDEE"]),
        dict(event["ATTENDEE"].params),
        [(str(c), dict(c.params)) for c in event["X-ONEHAND-ESCALATION"]],
    )


def _vobject_reading(data: bytes) -> tuple:
    event = vobject.readOne(data.decode()).vevent
    return (
        event.dtstart.value.astimezone(UTC),
        event.dtend.value.astimezone(UTC),
        event.summary.value,
        event.description.value,
        event.attendee.value,
        {k: v for k, v in event.attendee.params.items()},
        [(c.value, dict(c.params.items())) for c in event.contents["x-onehand-escalation"]],
    )


def test_dst_spanning_shift_reads_the_same_in_icalendar_and_vobject():
    fast, previous = invite(DST_SPANNING, now=NOW), icalendar_path(DST_SPANNING)
    assert _icalendar_reading(fast) == _icalendar_reading(previous)
    assert _vobject_reading(fast) == _vobject_reading(previous)
    start, end = _icalendar_reading(fast)[:2]
    assert (start, end) == (
        datetime(2026, 10, 24, 8, tzinfo=UTC),
        datetime(2026, 10, 26, 9, tzinfo=UTC),
    )
    assert _vobject_reading(fast)[:2] == (start, end)


@pytest.mark.parametrize("seed", range(5))
def test_folding_is_icalendars_for_any_mix_of_widths_and_escapes(seed):
    pieces = ["a", "Z", " ", "\\,", "\\;", "\\n", "^^", "^'", "é", "–", "李", "🚨", ":", '"']
    chooser = random.Random(seed)
    for _ in range(300):
        text = "X-T:" + "".join(chooser.choice(pieces) for _ in range(chooser.randrange(200)))
        assert entries._fold(text) == Contentline(text).to_ical()
