"""Hostile calendar files for the import limits (tests/test_ics_hostile.py).

Each entry: name -> (bytes, regular expression the refusal must match, or None when
the file is fine and must simply be answered quickly).
"""

from __future__ import annotations

import random

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
TAIL = "END:VCALENDAR\r\n"
MINUTES = ",".join(str(i) for i in range(60))


def wrap(*body: str) -> bytes:
    return (HEAD + "".join(line + "\r\n" for line in body) + TAIL).encode()


def event(*props: str, uid: str = "h@example.com") -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", *props, "END:VEVENT"]


def _timezones(count: int) -> bytes:
    blocks = []
    for i in range(count):
        blocks += [
            "BEGIN:VTIMEZONE",
            f"TZID:Custom {i}",
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000",
            f"TZOFFSETFROM:+0{i % 10}00",
            f"TZOFFSETTO:+0{i % 10}00",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    return wrap(*blocks, *event("DTSTART;TZID=Custom 1:20250304T100000", "DURATION:PT1H"))


def _dates(prop: str, count: int) -> bytes:
    values = ",".join(
        f"2024{1 + i % 12:02d}{1 + i % 28:02d}T{i % 24:02d}0000Z" for i in range(count)
    )
    return wrap(
        *event("DTSTART:20240101T100000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY", f"{prop}:{values}")
    )


#: Red-team F7: rules whose parts can never meet (one general guard refuses them all).
NEVER_MATCHING = (
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30",
    "FREQ=DAILY;BYWEEKNO=53;BYMONTH=6",
    "FREQ=DAILY;BYYEARDAY=100;BYMONTH=12",
    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=-30",
    "FREQ=DAILY;BYSETPOS=2",
    "FREQ=DAILY;BYDAY=FR;BYMONTHDAY=13;BYMONTH=2;BYYEARDAY=1",
    "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11",
)


def shapes() -> dict[str, tuple[bytes, str | None]]:
    noise = random.Random(13).randbytes(1024 * 1024)
    return {
        # Issue 13: the 552-byte upload.
        "hourly_with_byminute_bysecond_lists": (
            wrap(
                *event(
                    "DTSTART:20150101T000000Z",
                    "DTEND:20150101T000001Z",
                    f"RRULE:FREQ=HOURLY;BYMINUTE={MINUTES};BYSECOND={MINUTES}",
                )
            ),
            r"Line 8: an event repeats every hour with BYMINUTE/BYSECOND lists from 2015-01-01, "
            r"about [\d,]+ repetitions to work through; the limit is 200,000",
        ),
        "once_a_minute_from_year_1": (
            wrap(
                *event(
                    "DTSTART:00010101T000000Z",
                    "DURATION:PT1M",
                    f"RRULE:FREQ=HOURLY;BYMINUTE={MINUTES}",
                )
            ),
            r"repeats every hour with BYMINUTE lists from 0001-01-01, .*the limit is 200,000",
        ),
        "bysecond_byminute_from_year_1": (
            wrap(
                *event(
                    "DTSTART:00010101T000000",
                    f"RRULE:FREQ=DAILY;BYMINUTE={MINUTES};BYSECOND={MINUTES}",
                )
            ),
            r"repeats every day with BYMINUTE/BYSECOND lists from 0001-01-01",
        ),
        "count_a_billion": (
            wrap(
                *event(
                    "DTSTART:19900101T000000Z",
                    "DURATION:PT1H",
                    "RRULE:FREQ=HOURLY;COUNT=1000000000",
                )
            ),
            r"repeats every hour from 1990-01-01, about [\d,]+ repetitions",
        ),
        "time_zone_rule_count_a_billion": (
            wrap(
                "BEGIN:VTIMEZONE",
                "TZID:Hostile",
                "BEGIN:STANDARD",
                "DTSTART:20000101T000000",
                "TZOFFSETFROM:+0100",
                "TZOFFSETTO:+0100",
                "RRULE:FREQ=DAILY;COUNT=1000000000",
                "END:STANDARD",
                "END:VTIMEZONE",
                *event("DTSTART;TZID=Hostile:20250304T100000", "DURATION:PT1H"),
            ),
            r"a time zone rule repeats every day from 2000-01-01",
        ),
        "many_rules_adding_up": (
            wrap(
                *[
                    line
                    for i in range(300)
                    for line in event(
                        "DTSTART:20200101T000000Z",
                        "DURATION:PT1H",
                        "RRULE:FREQ=HOURLY",
                        uid=f"r{i}",
                    )
                ]
            ),
            r"repeating events add up to about [\d,]+ repetitions .* the limit is 200,000",
        ),
        "nested_90000_begin_lines": (
            (HEAD + "BEGIN:VEVENT\r\n" * 90_000).encode(),
            r"nests components 90,001 deep; the limit is 50",
        ),
        "vevent_nested_10000_deep": (
            (HEAD + "BEGIN:VEVENT\r\n" * 10_000 + "END:VEVENT\r\n" * 10_000 + TAIL).encode(),
            r"nests components 10,001 deep; the limit is 50",
        ),
        "thirty_thousand_components": (
            wrap(*["BEGIN:VEVENT", "END:VEVENT"] * 30_000),
            r"has 30,001 components .*the limit is 20,000",
        ),
        "five_thousand_time_zones": (
            _timezones(5000),
            r"defines 5,000 time zones \(VTIMEZONE\); the limit is 100",
        ),
        "exdate_flood": (_dates("EXDATE", 100_000), r"lists 100,000 extra or excluded dates"),
        "rdate_flood": (_dates("RDATE", 100_000), r"lists 100,000 extra or excluded dates"),
        "line_flood": (
            (HEAD + "X:1\r\n" * 400_000 + TAIL).encode(),
            r"more than 200,000 lines; the limit is 200,000",
        ),
        "invalid_time_zone_offsets": (
            wrap(
                "BEGIN:VTIMEZONE",
                "TZID:Broken",
                "BEGIN:STANDARD",
                "DTSTART:16010101T000000",
                "TZOFFSETFROM:+99999",
                "TZOFFSETTO:banana",
                "END:STANDARD",
                "END:VTIMEZONE",
                *event("DTSTART;TZID=Broken:20250304T100000", "DURATION:PT1H"),
            ),
            r"could not be read",
        ),
        "time_zone_rule_every_second": (
            wrap(
                "BEGIN:VTIMEZONE",
                "TZID:Hostile",
                "BEGIN:STANDARD",
                "DTSTART:16010101T000000",
                "TZOFFSETFROM:+0100",
                "TZOFFSETTO:+0100",
                f"RRULE:FREQ=HOURLY;BYMINUTE={MINUTES};BYSECOND={MINUTES}",
                "END:STANDARD",
                "END:VTIMEZONE",
                *event("DTSTART;TZID=Hostile:20250304T100000", "DURATION:PT1H"),
            ),
            r"a time zone rule repeats every hour with BYMINUTE/BYSECOND lists from 1601-01-01",
        ),
        "binary_after_a_valid_header": (
            HEAD.encode() + noise,
            r"not valid iCalendar|not an iCalendar",
        ),
        "fifty_megabytes": (
            HEAD.encode() + b"X-PAD:" + b"x" * (50 * 1024 * 1024) + b"\r\n" + TAIL.encode(),
            r"The calendar is too big( \(50\.0 MB\))?\. The limit is 2\.0 MB\.",
        ),
        # dateutil would look for 30 February up to the year 9999.
        "rule_that_never_matches": (
            wrap(
                *event(
                    "DTSTART:20240101T100000Z",
                    "DURATION:PT1H",
                    "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
                )
            ),
            r"Line 8: a repeating event never happens",
        ),
        # Fine, and answered quickly: the rule is cut just after the window (UNTIL).
        "daily_rule_from_1950": (
            wrap(
                *event(
                    "DTSTART:19500101T100000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=1000000000"
                )
            ),
            None,
        ),
        # Red-team F7: icalendar reads "0001 101" as the year 1; the budget must too.
        "dtstart_with_a_space_in_the_date": (
            wrap(*event("DTSTART:0001 101T000000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY")),
            r"Line 8: an event repeats every day from 0001-01-01",
        ),
        # Red-team F7: VTIMEZONE blocks with parameters on BEGIN are time zones all the same.
        "time_zones_begun_with_parameters": (
            _timezones(5_000).replace(b"BEGIN:VTIMEZONE", b"BEGIN;X=1:VTIMEZONE"),
            r"defines 5,000 time zones \(VTIMEZONE\); the limit is 100",
        ),
        # Red-team F8: an unknown TZID is refused by name, not read in the person's zone.
        "unknown_time_zone": (
            wrap(*event("DTSTART;TZID=Mars/Olympus:20250304T100000", "DURATION:PT1H")),
            r'Line 6: the time zone "Mars/Olympus" is unknown',
        ),
        **{
            f"never_matching_{number}": (
                wrap(*event("DTSTART:20240101T100000Z", "DURATION:PT1H", f"RRULE:{rule}")),
                r"Line 8: a repeating event never happens",
            )
            for number, rule in enumerate(NEVER_MATCHING)
        },
    }
