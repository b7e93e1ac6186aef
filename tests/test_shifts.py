"""Shift boundaries stay at local wall-clock time across DST, in every kind of zone."""

from datetime import UTC, date, datetime, time

import pytest

from rotation.shifts import local_to_utc, shift_windows


def weekly(zone, start, end, at=time(9, 0)):
    return shift_windows(
        pattern="weekly",
        handoff_weekday=0,
        handoff_time=at,
        time_zone=zone,
        period_start=start,
        period_end=end,
    )


def test_weekly_london_handoff_stays_at_nine_local_across_spring_forward():
    windows = weekly("Europe/London", date(2026, 3, 23), date(2026, 4, 6))
    assert [w.start for w in windows] == [
        datetime(2026, 3, 23, 9, tzinfo=UTC),  # GMT
        datetime(2026, 3, 30, 8, tzinfo=UTC),  # BST: 09:00 local
    ]
    assert windows[0].hours == 167  # the week that loses an hour


def test_weekly_london_week_that_falls_back_is_an_hour_longer():
    windows = weekly("Europe/London", date(2026, 10, 19), date(2026, 10, 27))
    assert windows[0].start == datetime(2026, 10, 19, 8, tzinfo=UTC)
    assert windows[0].end == datetime(2026, 10, 26, 9, tzinfo=UTC)
    assert windows[0].hours == 169


def test_new_york_daily_shift_on_the_change_day_is_23_hours():
    windows = shift_windows(
        pattern="daily",
        handoff_weekday=0,
        handoff_time=time(10, 0),
        time_zone="America/New_York",
        period_start=date(2026, 3, 7),
        period_end=date(2026, 3, 10),
    )
    assert [w.hours for w in windows] == [23, 24, 24]
    assert windows[1].start == datetime(2026, 3, 8, 14, tzinfo=UTC)  # 10:00 EDT


def test_sydney_dst_runs_the_other_way():
    # Sydney leaves daylight time on the first Sunday of April 2026.
    windows = weekly("Australia/Sydney", date(2026, 3, 30), date(2026, 4, 7))
    assert windows[0].start == datetime(2026, 3, 29, 22, tzinfo=UTC)  # 09:00 AEDT
    assert windows[1].start == datetime(2026, 4, 5, 23, tzinfo=UTC)  # 09:00 AEST
    assert windows[0].hours == 169


def test_kolkata_has_no_dst_so_every_week_is_168_hours():
    windows = weekly("Asia/Kolkata", date(2026, 1, 1), date(2026, 12, 31))
    assert {w.hours for w in windows} == {168}
    assert windows[0].start == datetime(2026, 1, 5, 3, 30, tzinfo=UTC)


def test_handoff_inside_the_spring_gap_moves_forward_like_the_clock():
    assert local_to_utc(date(2026, 3, 29), time(1, 30), zone("Europe/London")) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )  # 01:30 does not exist; it is 02:30 BST == 01:30 UTC


def test_ambiguous_handoff_takes_the_first_occurrence():
    assert local_to_utc(date(2026, 11, 1), time(1, 30), zone("America/New_York")) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )  # 01:30 EDT, not EST


def test_shifts_tile_the_period_without_gaps():
    windows = weekly("America/New_York", date(2026, 1, 1), date(2027, 1, 1))
    assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))


def test_unknown_pattern_is_refused():
    with pytest.raises(ValueError, match="unknown shift pattern"):
        shift_windows(
            pattern="hourly",
            handoff_weekday=0,
            handoff_time=time(9),
            time_zone="UTC",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 2, 1),
        )


def zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
