"""A reachable escalation chain: whoever is away is not named, in the invite, the feeds, the
on-call answer and the home page; a mentor who adds leave after publishing updates the
entries that named them, once per person, with a higher SEQUENCE."""

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from availability import services as availability
from notifications.models import Delivery, RotationFeed
from planning.escalation import reachable_escalation_by_shift
from planning.services import recommend_for
from rotation.models import Membership, Person, Rotation, Shift
from rotation.services import create_roster, leave_team, publish_roster
from tests.factories import engineer
from tests.notifications_support import make_team, parsed_event, publish

pytestmark = pytest.mark.django_db
User = get_user_model()

# Two weeks of a weekly London rotation (handoff Monday 09:00 GMT = 09:00 UTC).
MARCH = (date(2031, 3, 3), date(2031, 3, 17))
FIRST_WEEK = (datetime(2031, 3, 3, 9, tzinfo=UTC), datetime(2031, 3, 10, 9, tzinfo=UTC))
IN_FIRST_WEEK = "2031-03-05T12:00:00Z"


def weekly_team(size: int = 6):
    """Amara is primary and Ben secondary in the first week; Leo-like last engineer mentors
    the rotation and Maya, the manager, leads it."""
    return make_team(size, pattern=Rotation.Pattern.WEEKLY)


def on_leave(user, span=FIRST_WEEK, reason="Holiday"):
    availability.mark(span[0], span[1], "unavailable", reason=reason, by=user)


def escalation_in(event) -> list[tuple[str, str]]:
    """(role, address) of each X-ONEHAND-ESCALATION, in order."""
    found = event.get("X-ONEHAND-ESCALATION", [])
    found = found if isinstance(found, list) else [found]
    ordered = sorted(found, key=lambda p: int(p.params["X-ONEHAND-ORDER"]))
    return [(p.params["X-ONEHAND-ROLE"], str(p).removeprefix("mailto:")) for p in ordered]


def first_week_event_for(messages, user):
    events = [parsed_event(m)[1] for m in messages if user.email in m["To"]]
    return max(
        (e for e in events if e.decoded("DTSTART") == FIRST_WEEK[0]),
        key=lambda e: int(e["SEQUENCE"]),
    )


def oncall(setup, at=IN_FIRST_WEEK) -> list[tuple[str, int]]:
    client = APIClient()
    client.force_authenticate(setup.people[0])
    params = {"at": at} if at else {}
    body = client.get(f"/api/rotations/{setup.rotation.pk}/oncall/", params).json()
    return [(c["role"], c["user_id"]) for c in body["escalation"]]


def feed_events(client, url) -> list:
    calendar = icalendar.Calendar.from_ical(client.get(url).content)
    return [e for e in calendar.walk("VEVENT") if e.decoded("DTSTART") == FIRST_WEEK[0]]


def test_the_invite_names_the_lead_not_the_mentor_on_holiday(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = weekly_team()
    amara, ben, mentor, maya = setup.people[0], setup.people[1], setup.people[-1], setup.boss
    on_leave(mentor)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
    event = first_week_event_for(smtp_server.messages, amara)
    assert escalation_in(event) == [("secondary", ben.email), ("lead", maya.email)]
    assert mentor.first_name not in str(event["DESCRIPTION"])


def test_the_mentor_back_from_holiday_is_named_the_week_after(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = weekly_team()
    mentor = setup.people[-1]
    on_leave(mentor)
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
    ben = setup.people[1]  # primary in the second week
    events = [parsed_event(m)[1] for m in smtp_server.messages if ben.email in m["To"]]
    (second,) = [e for e in events if e.decoded("DTSTART") == FIRST_WEEK[1]]
    assert ("mentor", mentor.email) in escalation_in(second)


def test_the_personal_and_team_feeds_skip_the_mentor_on_holiday(client):
    setup = weekly_team()
    amara, mentor = setup.people[0], setup.people[-1]
    publish(setup, *MARCH)
    on_leave(mentor)
    amara.person.refresh_from_db()
    feed, _ = RotationFeed.objects.get_or_create(rotation=setup.rotation)
    personal = feed_events(client, f"/calendar/{amara.person.feed_token}.ics")
    team = feed_events(client, f"/calendar/rotations/{feed.token}.ics")
    for event in personal + team:
        assert mentor.email not in [address for _, address in escalation_in(event)]
        assert ("lead", setup.boss.email) in escalation_in(event)


def test_a_subscribed_team_feed_sees_the_new_chain_after_leave(client):
    setup = weekly_team()
    publish(setup, *MARCH)
    feed, _ = RotationFeed.objects.get_or_create(rotation=setup.rotation)
    url = f"/calendar/rotations/{feed.token}.ics"
    before = client.get(url)
    on_leave(setup.people[-1])
    again = client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert again.status_code == 200 and again["ETag"] != before["ETag"]
    calendar = icalendar.Calendar.from_ical(again.content)
    first_week = [e for e in calendar.walk("VEVENT") if e.decoded("DTSTART") == FIRST_WEEK[0]]
    assert first_week
    for event in first_week:
        assert setup.people[-1].email not in [address for _, address in escalation_in(event)]


def test_the_oncall_answer_skips_the_mentor_on_holiday(client):
    setup = weekly_team()
    ben, mentor, maya = setup.people[1], setup.people[-1], setup.boss
    publish(setup, *MARCH)
    assert oncall(setup) == [("secondary", ben.pk), ("mentor", mentor.pk), ("lead", maya.pk)]
    on_leave(mentor)
    assert oncall(setup) == [("secondary", ben.pk), ("lead", maya.pk)]


def test_the_oncall_answer_now_follows_new_leave_at_once_despite_the_cache(
    django_capture_on_commit_callbacks,
):
    setup = weekly_team()
    mentor = setup.people[-1]
    today = timezone.now().date()
    publish(setup, today - timedelta(days=7), today + timedelta(days=14))
    assert mentor.pk in [user for _, user in oncall(setup, at=None)]  # now cached
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        on_leave(mentor, (now - timedelta(days=8), now + timedelta(days=8)))
    assert mentor.pk not in [user for _, user in oncall(setup, at=None)]


def test_a_deactivated_mentor_is_not_named_in_the_oncall_answer():
    """Someone whose account was switched off has left: the chain goes on to the lead."""
    setup = weekly_team()
    ben, mentor, maya = setup.people[1], setup.people[-1], setup.boss
    publish(setup, *MARCH)
    mentor.is_active = False
    mentor.save()
    assert oncall(setup) == [("secondary", ben.pk), ("lead", maya.pk)]


def test_a_primarys_own_mentor_on_holiday_falls_back_to_the_rotations_mentor():
    setup = weekly_team()
    amara, ben, dev, mentor = setup.people[0], setup.people[1], setup.people[3], setup.people[-1]
    Person.objects.filter(user=amara).update(mentor=dev)
    publish(setup, *MARCH)
    assert oncall(setup)[1] == ("mentor", dev.pk)
    on_leave(dev)
    assert oncall(setup) == [("secondary", ben.pk), ("mentor", mentor.pk), ("lead", setup.boss.pk)]


def test_a_lead_on_holiday_falls_back_to_the_rotations_mentor():
    setup = weekly_team()
    amara, ben, dev, mentor = setup.people[0], setup.people[1], setup.people[3], setup.people[-1]
    Person.objects.filter(user=amara).update(mentor=dev)
    publish(setup, *MARCH)
    on_leave(setup.boss)
    assert oncall(setup) == [("secondary", ben.pk), ("mentor", dev.pk), ("lead", mentor.pk)]


def _served_june_2026(setup, primary, secondary):
    """A past month served: `primary` five primary weeks, `secondary` five secondary weeks."""
    june = create_roster(setup.rotation, date(2026, 6, 1), date(2026, 7, 1), by=setup.boss)
    june.shifts.filter(role="primary").update(assignee=primary)
    june.shifts.filter(role="secondary").update(assignee=secondary)
    publish_roster(june, by=setup.boss)


def test_with_mentor_and_lead_away_the_most_experienced_people_stand_in():
    setup = weekly_team()
    ben, dev, elena = setup.people[1], setup.people[3], setup.people[4]
    _served_june_2026(setup, primary=dev, secondary=elena)
    publish(setup, *MARCH)
    on_leave(setup.people[-1])
    on_leave(setup.boss)
    assert oncall(setup) == [("secondary", ben.pk), ("mentor", dev.pk), ("lead", elena.pk)]


def test_an_experienced_person_away_too_is_passed_over():
    setup = weekly_team()
    ben, dev, elena = setup.people[1], setup.people[3], setup.people[4]
    _served_june_2026(setup, primary=dev, secondary=elena)
    publish(setup, *MARCH)
    for away in (setup.people[-1], setup.boss, dev):
        on_leave(away)
    assert oncall(setup) == [("secondary", ben.pk), ("mentor", elena.pk)]


def test_with_everyone_away_the_chain_is_the_secondary_alone():
    setup = weekly_team()
    publish(setup, *MARCH)
    on_leave(setup.people[-1])
    on_leave(setup.boss)
    assert oncall(setup) == [("secondary", setup.people[1].pk)]


def test_a_meeting_from_a_calendar_does_not_make_the_mentor_unreachable():
    setup = weekly_team()
    mentor = setup.people[-1]
    source = mentor.calendar_sources.create(kind="upload", name="Work")
    mentor.availability_entries.create(
        start=FIRST_WEEK[0] + timedelta(hours=2),
        end=FIRST_WEEK[0] + timedelta(hours=3),
        source="calendar",
        calendar=source,
        reason="Busy (calendar)",
    )
    publish(setup, *MARCH)
    assert ("mentor", mentor.pk) in oncall(setup)


def test_the_home_page_skips_the_mentor_on_holiday(client):
    setup = weekly_team()
    amara, mentor = setup.people[0], setup.people[-1]
    Person.objects.filter(user=mentor).update(phone="+44 20 7946 5555")
    today = timezone.now().date()
    publish(setup, today + timedelta(days=7), today + timedelta(days=60))
    client.force_login(amara)
    assert "+44 20 7946 5555" in client.get("/").content.decode()
    on_leave(mentor, (timezone.now(), timezone.now() + timedelta(days=70)))
    assert "+44 20 7946 5555" not in client.get("/").content.decode()


# --------------------------------------------------------------------------- updates


def _entry_rows(**filters):
    return Delivery.objects.filter(kind="entry", action="request", **filters)


def test_leave_after_publishing_sends_one_update_to_each_person_of_the_shift(
    django_capture_on_commit_callbacks, smtp_server
):
    setup = weekly_team()
    amara, ben, mentor = setup.people[0], setup.people[1], setup.people[-1]
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
    before = int(first_week_event_for(smtp_server.messages, amara)["SEQUENCE"])
    smtp_server.reset()
    with django_capture_on_commit_callbacks(execute=True):
        on_leave(mentor)
    # One each for the primary and the secondary of the week the mentor is away.
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted([amara.email, ben.email])
    event = first_week_event_for(smtp_server.messages, amara)
    assert int(event["SEQUENCE"]) > before
    assert mentor.email not in [address for _, address in escalation_in(event)]


def test_more_edits_of_the_same_leave_send_no_second_update(django_capture_on_commit_callbacks):
    setup = weekly_team()
    amara, mentor = setup.people[0], setup.people[-1]
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
    first_week = Shift.objects.filter(start=FIRST_WEEK[0], roster__status="published")
    with django_capture_on_commit_callbacks(execute=True):
        on_leave(mentor)
        on_leave(mentor, (FIRST_WEEK[0] - timedelta(days=1), FIRST_WEEK[1]))
    with django_capture_on_commit_callbacks(execute=True):
        on_leave(mentor, (FIRST_WEEK[0], FIRST_WEEK[1] - timedelta(days=1)), reason="Sick")
    updates = _entry_rows(shift__in=first_week, sequence__gt=0)
    assert sorted(updates.values_list("user_id", flat=True)) == sorted(
        [amara.pk, setup.people[1].pk]
    )
    assert not _entry_rows(sequence__gt=0).exclude(shift__in=first_week).exists()


def test_leave_entered_by_an_admin_updates_the_entries_too(
    client, django_capture_on_commit_callbacks
):
    setup = weekly_team()
    amara, mentor = setup.people[0], setup.people[-1]
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/availability/availabilityentry/add/",
            {
                "user": mentor.pk,
                "start_0": "2031-03-01",
                "start_1": "00:00:00",
                "end_0": "2031-03-12",
                "end_1": "00:00:00",
                "kind": "unavailable",
                "reason": "Holiday",
                "source": "manual",
            },
        )
    assert response.status_code == 302
    assert _entry_rows(user=amara, sequence__gt=0).count() == 1
    assert mentor.pk not in [user for _, user in oncall(setup)]


def test_leave_that_changes_no_chain_sends_nothing(django_capture_on_commit_callbacks):
    setup = weekly_team()
    someone = setup.people[4]  # neither on call, nor mentor, nor lead in March
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
    rows = Delivery.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        on_leave(someone)
    assert Delivery.objects.count() == rows


def test_the_mentor_back_early_restores_the_chain_with_another_update(
    django_capture_on_commit_callbacks,
):
    setup = weekly_team()
    mentor = setup.people[-1]
    with django_capture_on_commit_callbacks(execute=True):
        publish(setup, *MARCH)
        on_leave(mentor)
    with django_capture_on_commit_callbacks(execute=True):
        availability.clear(*FIRST_WEEK, by=mentor)
    assert ("mentor", mentor.pk) in oncall(setup)
    assert _entry_rows(user=setup.people[0], sequence__gt=0).count() == 2


# --------------------------------------------------------------------------- the recommender


def test_the_recommender_counts_an_experienced_person_as_reachable():
    setup = weekly_team()
    _served_june_2026(setup, primary=setup.people[3], secondary=setup.people[4])
    on_leave(setup.people[-1])
    on_leave(setup.boss)
    week = Shift(start=FIRST_WEEK[0], end=FIRST_WEEK[1])
    assert reachable_escalation_by_shift(rotation=setup.rotation, shifts=[week]) == {
        FIRST_WEEK: True
    }


def test_the_recommender_learns_where_nobody_can_be_escalated_to():
    setup = weekly_team()
    on_leave(setup.people[-1])
    on_leave(setup.boss)
    second_week = (FIRST_WEEK[1], FIRST_WEEK[1] + timedelta(days=7))
    shifts = [
        Shift(start=FIRST_WEEK[0], end=FIRST_WEEK[1]),
        Shift(start=second_week[0], end=second_week[1]),
    ]
    assert reachable_escalation_by_shift(rotation=setup.rotation, shifts=shifts) == {
        FIRST_WEEK: False,
        second_week: True,
    }


def test_a_draft_marks_the_shifts_where_nobody_can_be_escalated_to():
    setup = weekly_team()
    on_leave(setup.people[-1])
    on_leave(setup.boss)

    slots, _, _ = recommend_for(setup.rotation, *MARCH, now=FIRST_WEEK[0] - timedelta(days=30))

    reachable = {(s.start, s.end): s.escalation_reachable for s in slots}
    assert reachable[FIRST_WEEK] is False
    assert reachable[(FIRST_WEEK[1], FIRST_WEEK[1] + timedelta(days=7))] is True


# --------------------------------------------------------------------------- query counts


def _queries(action) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


@pytest.mark.parametrize("what", ["oncall", "team feed", "personal feed"])
def test_the_chain_costs_the_same_queries_in_a_small_and_a_large_team(client, what):
    counts = []
    for size, prefix in ((4, "s"), (24, "l")):
        setup = make_team(size, pattern=Rotation.Pattern.WEEKLY, prefix=prefix)
        _served_june_2026(setup, primary=setup.people[2], secondary=setup.people[3])
        publish(setup, *MARCH)
        # Mentor and lead away: the chain falls back to experienced people, the costly path.
        on_leave(setup.people[-1])
        on_leave(setup.boss)
        for user in setup.people[:-1]:
            Person.objects.filter(user=user).update(mentor=setup.people[-1])
        feed, _ = RotationFeed.objects.get_or_create(rotation=setup.rotation)
        setup.people[0].person.refresh_from_db()
        action = {
            "oncall": lambda setup=setup: oncall(setup),
            "team feed": lambda feed=feed: client.get(f"/calendar/rotations/{feed.token}.ics"),
            "personal feed": lambda setup=setup: client.get(
                f"/calendar/{setup.people[0].person.feed_token}.ics"
            ),
        }[what]
        counts.append(_queries(action))
    assert counts[0] == counts[1]


def test_a_lead_who_left_the_team_is_no_longer_the_lead_nor_named():
    """Someone who leaves is taken off the team's rotations as lead (and mentor): the chain
    would otherwise name them, with their phone (red-team finding)."""
    setup = weekly_team()
    ben, mentor = setup.people[1], setup.people[-1]
    nadia = engineer(setup.team, first_name="Nadia")
    Rotation.objects.filter(pk=setup.rotation.pk).update(lead=nadia)
    publish(setup, *MARCH)

    leave_team(Membership.objects.get(team=setup.team, user=nadia), by=nadia)

    assert Rotation.objects.get(pk=setup.rotation.pk).lead is None
    assert oncall(setup) == [("secondary", ben.pk), ("mentor", mentor.pk)]


def test_a_mentor_whose_membership_is_only_an_invitation_is_not_named():
    """Only active members of the rotation's team are anyone to escalate to, however the
    membership changed (the admin, a shell)."""
    setup = weekly_team()
    ben, mentor, maya = setup.people[1], setup.people[-1], setup.boss
    publish(setup, *MARCH)

    Membership.objects.filter(team=setup.team, user=mentor).update(status=Membership.Status.INVITED)

    assert oncall(setup) == [("secondary", ben.pk), ("lead", maya.pk)]
