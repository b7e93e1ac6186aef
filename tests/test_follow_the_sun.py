"""Follow the sun: three regions cover every minute of a year across everyone's DST, and nobody
is ever on call outside their working hours."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from planning import services as planning_services
from rotation.coverage import WindowDef, check_coverage, region_shifts
from rotation.models import CoverageWindow, Person, Rotation
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

REGIONS = [
    WindowDef("1", "APAC", "Australia/Sydney", time(10), time(18)),
    WindowDef("2", "EMEA", "Europe/London", time(8), time(16)),
    WindowDef("3", "AMER", "America/New_York", time(11), time(19)),
]


def test_three_regions_cover_every_minute_of_a_year_with_dst_changes():
    shifts = region_shifts(REGIONS, date(2025, 12, 31), date(2027, 1, 1))
    assert shifts[0].start <= datetime(2026, 1, 1, tzinfo=UTC)
    assert all(a.end == b.start for a, b in zip(shifts, shifts[1:]))
    assert shifts[-1].end >= datetime(2027, 1, 1, tzinfo=UTC)
    assert all(s.start < s.end for s in shifts)


def test_the_checker_names_the_overlaps_and_gaps_and_the_rule_applied():
    deviations = check_coverage(REGIONS, date(2026, 1, 1), date(2027, 1, 1))
    kinds = {d.kind for d in deviations}
    assert kinds == {"gap", "overlap"}
    summer = [d for d in deviations if d.start.date() == date(2026, 7, 1)]
    # In July London is on BST, so EMEA starts 07:00 UTC while APAC (AEST) ends 08:00 UTC.
    assert any(
        d.kind == "overlap" and d.before == "APAC" and d.after == "EMEA" and d.hours == 1
        for d in summer
    )
    assert all("hands over" in d.rule or "stays on call" in d.rule for d in deviations)


def test_outside_any_dst_change_the_regions_tile_exactly():
    # Mid-January: Sydney on AEDT (+11), London on GMT, New York on EST.
    windows = [
        WindowDef("1", "APAC", "Australia/Sydney", time(11), time(19)),
        WindowDef("2", "EMEA", "Europe/London", time(8), time(16)),
        WindowDef("3", "AMER", "America/New_York", time(11), time(19)),
    ]
    assert check_coverage(windows, date(2026, 1, 10), date(2026, 1, 20)) == []


@pytest.mark.django_db
@time_machine.travel("2026-03-20 12:00Z")
def test_nobody_is_assigned_outside_their_working_hours():
    team = TeamFactory()
    boss = manager(team)
    rotation = RotationFactory(
        team=team, pattern=Rotation.Pattern.FOLLOW_THE_SUN, has_secondary=False, lead=boss
    )
    hours = {
        "Australia/Sydney": (time(8), time(20)),
        "Europe/London": (time(7), time(17)),
        "America/New_York": (time(10), time(20)),
    }
    for w in REGIONS:
        CoverageWindow.objects.create(
            rotation=rotation, label=w.label, time_zone=w.time_zone, start=w.start, end=w.end
        )
    people = []
    for zone, (start, end) in hours.items():
        for _ in range(3):
            user = engineer(team, time_zone=zone)
            Person.objects.filter(user=user).update(
                work_start=start, work_end=end, work_days="0,1,2,3,4,5,6"
            )
            people.append(user)
    join_rotation(rotation, *people)
    roster = planning_services.draft_roster(rotation, date(2026, 3, 25), date(2026, 4, 10), by=boss)
    shifts = list(roster.shifts.select_related("assignee__person", "window"))
    assert shifts and all(s.window_id for s in shifts)
    for shift in shifts:
        if shift.assignee is None:
            continue
        person = shift.assignee.person
        tz = ZoneInfo(person.time_zone)
        local_start, local_end = (
            shift.start.astimezone(tz),
            (shift.end - timedelta(seconds=1)).astimezone(tz),
        )
        assert local_start.date() == local_end.date(), shift
        assert person.work_start <= local_start.time() and local_end.time() < person.work_end, (
            shift,
            person.time_zone,
        )


@pytest.mark.django_db
@time_machine.travel("2026-11-25 12:00Z")
def test_the_outgoing_person_writes_a_handover_the_rotation_page_shows(client):
    from onehand.links import make_token
    from tests.swap_support import published_team

    team = published_team(size=4)
    shift = team["roster"].shifts.filter(role="primary").order_by("start").first()
    token = make_token("handover", shift.assignee_id, shift.pk)
    response = client.post(
        f"/shifts/{shift.pk}/handover/",
        {"t": token, "open_incidents": "<b>INC-42</b> payments slow", "notes": "Watch the queue"},
    )
    assert response.status_code == 200
    client.force_login(team["boss"])
    page = client.get(f"/rotations/{team['rotation'].pk}/").content.decode()
    assert "&lt;b&gt;INC-42&lt;/b&gt; payments slow" in page


@pytest.mark.django_db
@time_machine.travel("2026-11-25 12:00Z")
def test_only_the_shift_holder_writes_its_handover(client):
    from tests.swap_support import published_team

    team = published_team(size=4)
    shift = team["roster"].shifts.filter(role="primary").order_by("start").first()
    other = next(p for p in team["people"] if p.pk != shift.assignee_id)
    client.force_login(other)
    assert client.post(f"/shifts/{shift.pk}/handover/", {"notes": "x"}).status_code == 403
