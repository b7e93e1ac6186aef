"""History from another tool, awkward exports: a reversed event or a time the clocks skipped is
refused by name, an oversized iCal file names the iCal limit, a large export gets a reading
budget for its size, the preview counts every unknown name and says when there are too many."""

import io
from datetime import UTC, datetime

import pytest

from onehand.errors import Invalid
from planning.tool_history import (
    MAX_UNKNOWN_SHOWN,
    import_tool_history,
    parse_seconds,
    preview_as_dict,
    preview_tool_history,
)
from rotation.models import Shift
from tests.factories import build_team

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def calendar(*events: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PagerDuty//EN\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    ).encode()


def event(uid: str, summary: str, start: str, end: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\nDTSTART:{start}\r\n"
        f"DTEND:{end}\r\nEND:VEVENT\r\n"
    )


def test_an_event_ending_before_it_starts_is_refused_by_name_and_nothing_is_written():
    setup = build_team(3, time_zone="UTC")
    data = calendar(
        event("a1", "On Call - Eng0 - Payments", "20260310T090000Z", "20260306T090000Z")
    )
    with pytest.raises(Invalid) as refused:
        import_tool_history(setup.rotation, data, by=setup.boss, now=NOW)
    assert 'Event 1 ("On Call - Eng0 - Payments"' in str(refused.value)
    assert "ends before it starts" in str(refused.value)
    assert not Shift.objects.exists()


def test_the_preview_counts_every_unknown_name_and_says_when_some_are_not_listed():
    setup = build_team(3, time_zone="UTC")
    names = MAX_UNKNOWN_SHOWN + 50
    lines = ["User,Start Date,End Date"] + [
        f"Stranger {n},2026-01-{1 + n % 28:02d} {n % 24:02d}:00,2026-01-{1 + n % 28:02d} "
        f"{n % 24:02d}:30"
        for n in range(names)
    ]
    preview = preview_tool_history(
        setup.rotation, ("\n".join(lines) + "\n").encode(), by=setup.boss, now=NOW
    )
    shown = preview_as_dict(preview)
    assert len(shown["unknown"]) == MAX_UNKNOWN_SHOWN
    assert shown["unknown_total"] == names
    assert f"{names} names" in shown["unknown_note"]


def test_a_csv_time_the_clocks_skipped_is_refused_naming_the_line():
    setup = build_team(3, time_zone="America/New_York")
    data = b"User,Start Date,End Date\nEng0,2026-03-07 09:00,2026-03-08 02:30\n"
    with pytest.raises(Invalid) as refused:
        import_tool_history(setup.rotation, data, by=setup.boss, now=NOW)
    assert "Line 2: 2026-03-08 02:30 does not exist in America/New_York" in str(refused.value)
    assert not Shift.objects.exists()


def test_an_oversized_ical_export_is_refused_with_the_ical_limit(client):
    setup = build_team(3, time_zone="UTC")
    padding = "X-FILLER:" + "x" * 60 + "\r\n"
    data = calendar(padding * (2 * 1024 * 1024 // len(padding) + 10))
    client.force_login(setup.boss)
    answer = client.post(
        f"/api/rotations/{setup.rotation.pk}/history-import/preview/",
        {"file": io.BytesIO(data)},
    )
    assert answer.status_code == 400
    assert "2 MB for an iCal export" in str(answer.json())


def test_an_ical_history_export_gets_a_reading_budget_that_grows_with_its_size():
    assert parse_seconds(10 * 1024) == pytest.approx(3.1)
    assert parse_seconds(250 * 1024) == pytest.approx(5.5)
    assert parse_seconds(2 * 1024 * 1024) == 20.0


def test_ical_events_from_long_ago_are_counted_as_left_out_like_csv_rows():
    setup = build_team(3, time_zone="UTC")
    data = calendar(
        event("a1", "On Call - Eng0 - Payments", "20260302T090000Z", "20260303T090000Z"),
        event("a2", "On Call - Eng1 - Payments", "19260302T090000Z", "19260303T090000Z"),
        event("a3", "On Call - Eng2 - Payments", "00010302T090000Z", "00010303T090000Z"),
    )
    preview = preview_tool_history(setup.rotation, data, by=setup.boss, now=NOW)
    assert preview.unknown == {"Eng0": 1}  # the recent one is read (then mapped by the manager)
    assert preview.left_out_old == 2
