"""Subscription feeds: local times over DST (icalendar and vobject), 304s, tokens, cancellations."""

import re
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
import time_machine
import vobject
from django.contrib.auth import get_user_model

from notifications.models import RotationFeed
from notifications.selectors import entry_uid
from rotation.models import Person, Rotation, Shift, Team
from tests.factories import reassign
from tests.notifications_support import FAST_HASHERS, make_team, publish

User = get_user_model()

pytestmark = pytest.mark.django_db

MARCH = (date(2031, 3, 1), date(2031, 4, 1))
# Weekly, Monday 09:00 local. 2031: New York springs forward on 9 Mar, London on 30 Mar.
MONDAYS_UTC = {
    "Europe/London": [datetime(2031, 3, d, 9, tzinfo=UTC) for d in (3, 10, 17, 24)]
    + [datetime(2031, 3, 31, 8, tzinfo=UTC)],
    "America/New_York": [datetime(2031, 3, 3, 14, tzinfo=UTC)]
    + [datetime(2031, 3, d, 13, tzinfo=UTC) for d in (10, 17, 24, 31)],
}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def personal_url(user) -> str:
    user.person.refresh_from_db()
    return f"/calendar/{user.person.feed_token}.ics"


def team_url(rotation) -> str:
    feed, _ = RotationFeed.objects.get_or_create(rotation=rotation)
    return f"/calendar/rotations/{feed.token}.ics"


def events_of(body: bytes) -> list[icalendar.Event]:
    return icalendar.Calendar.from_ical(body).walk("VEVENT")


@pytest.mark.parametrize("zone", list(MONDAYS_UTC))
def test_a_dst_month_shows_the_right_local_times_in_icalendar_and_vobject(client, zone):
    setup = make_team(6, pattern=Rotation.Pattern.WEEKLY, time_zone=zone)
    publish(setup, *MARCH)
    response = client.get(team_url(setup.rotation))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content
    lines = body.replace(b"\r\n ", b"").decode().split("\r\n")
    expected_local = [f"DTSTART;TZID={zone}:203103{d:02d}T090000" for d in (3, 10, 17, 24, 31)]
    for line in expected_local:
        assert lines.count(line) == 2  # primary and secondary

    primaries = sorted(
        (e for e in events_of(body) if str(e["X-ONEHAND-ROLE"]) == "primary"), key=lambda e: e.start
    )
    assert [e.start.astimezone(UTC) for e in primaries] == MONDAYS_UTC[zone]
    assert [(e.start.hour, e.start.minute, e.start.weekday()) for e in primaries] == [(9, 0, 0)] * 5
    assert "METHOD" not in icalendar.Calendar.from_ical(body)

    parsed = vobject.readOne(body.decode())
    starts = sorted({v.dtstart.value.astimezone(UTC) for v in parsed.vevent_list})
    assert starts == MONDAYS_UTC[zone]
    durations = sorted(
        {
            (v.dtend.value.astimezone(UTC) - v.dtstart.value.astimezone(UTC))
            for v in parsed.vevent_list
        }
    )
    assert timedelta(hours=167) in durations  # the week over the spring change is an hour short


def test_the_personal_feed_lists_only_that_persons_shifts_with_their_links(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY, time_zone="America/New_York")
    roster = publish(setup, *MARCH)
    me = setup.people[0]
    mine = list(Shift.objects.filter(roster=roster, assignee=me))
    body = client.get(personal_url(me)).content
    events = events_of(body)
    assert {str(e["UID"]) for e in events} == {entry_uid(s.pk, me.pk) for s in mine}
    for event in events:
        assert event["ATTENDEE"] == f"mailto:{me.email}"
        assert "Can't make it? http" in str(event["DESCRIPTION"])
    assert {e.start.astimezone(UTC) for e in events} <= set(MONDAYS_UTC["America/New_York"])
    assert {
        v.dtstart.value.astimezone(UTC) for v in vobject.readOne(body.decode()).vevent_list
    } == {e.start.astimezone(UTC) for e in events}


def test_the_team_feed_names_people_and_carries_no_personal_links(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    events = events_of(client.get(team_url(setup.rotation)).content)
    assert len(events) == 10
    first = min(events, key=lambda e: (e.start, str(e["X-ONEHAND-ROLE"])))
    assert str(first["SUMMARY"]).startswith(f"On call: {setup.rotation.name}, primary: ")
    assert all("cant-make-it" not in str(e["DESCRIPTION"]) for e in events)
    assert all(
        str(e["UID"]).startswith("shift-") and "-person-" not in str(e["UID"]) for e in events
    )


def test_a_second_request_with_the_etag_or_date_gets_304_and_a_change_gets_200(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    roster = publish(setup, *MARCH)
    me = setup.people[0]
    url = personal_url(me)
    first = client.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('W/"') and modified
    assert "private" in first["Cache-Control"]
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304

    shift = Shift.objects.filter(roster=roster, assignee=me).first()
    reassign(shift, setup.people[3] if shift.role == "primary" else setup.people[2])
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_calendar_client_or_monitor_probing_with_head_gets_the_headers_and_no_body(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    url = personal_url(setup.people[0])

    probe = client.head(url)

    assert probe.status_code == 200 and probe.content == b""
    assert probe["ETag"] == client.get(url)["ETag"]
    assert probe["Content-Type"].startswith("text/calendar")


@pytest.mark.parametrize("change", ["name", "phone", "mentor"])
def test_a_client_sending_only_if_modified_since_gets_an_edit_made_in_the_same_second(
    client, change
):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    me, partner = setup.people[0], setup.people[1]
    with time_machine.travel("2031-03-12 12:00Z", tick=False):
        publish(setup, *MARCH)
        url = personal_url(me)
        since = client.get(url)["Last-Modified"]
        assert client.get(url, HTTP_IF_MODIFIED_SINCE=since).status_code == 304
        if change == "name":
            User.objects.filter(pk=me.pk).update(first_name="Renamed")
        elif change == "phone":
            Person.objects.filter(user=setup.boss).update(phone="+44 1 2345")
        else:
            Person.objects.filter(user=me).update(mentor=partner)
        after = client.get(url, HTTP_IF_MODIFIED_SINCE=since)
        assert after.status_code == 200 and after["Last-Modified"] != since
        assert client.get(url, HTTP_IF_MODIFIED_SINCE=after["Last-Modified"]).status_code == 304


def test_a_rotated_personal_token_stops_the_old_link(client):
    setup = make_team(3, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    me = setup.people[0]
    old = personal_url(me)
    assert client.get(old).status_code == 200
    client.force_login(me)
    page = client.get("/calendar/").content.decode()
    assert f"webcal://127.0.0.1:8000{old}" in page and f"http://127.0.0.1:8000{old}" in page
    assert client.post("/calendar/rotate/", {"feed": "personal"}).status_code == 302
    assert client.get(old).status_code == 404
    new = personal_url(me)
    assert new != old and client.get(new).status_code == 200


def test_only_managers_rotate_a_team_feed_token(client):
    setup = make_team(3, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    old = team_url(setup.rotation)
    client.force_login(setup.people[0])
    assert old in client.get("/calendar/").content.decode()
    form = {"feed": f"rotation-{setup.rotation.pk}"}
    assert client.post("/calendar/rotate/", form).status_code == 403
    assert client.get(old).status_code == 200
    client.force_login(setup.boss)
    assert client.post("/calendar/rotate/", form).status_code == 302
    assert client.get(old).status_code == 404
    assert client.get(team_url(setup.rotation)).status_code == 200


def test_outsiders_cannot_rotate_another_teams_feed(client):
    setup = make_team(3, pattern=Rotation.Pattern.WEEKLY)
    other = make_team(3, pattern=Rotation.Pattern.WEEKLY, prefix="o")
    client.force_login(other.boss)
    response = client.post("/calendar/rotate/", {"feed": f"rotation-{setup.rotation.pk}"})
    assert response.status_code == 404


def test_unknown_tokens_are_404(client):
    assert client.get("/calendar/nope.ics").status_code == 404
    assert client.get("/calendar/rotations/nope.ics").status_code == 404


def test_a_removed_assignment_stays_as_cancelled_for_30_days_then_goes(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    roster = publish(setup, *MARCH)
    shift = Shift.objects.filter(roster=roster, role="primary").order_by("start").first()
    old = shift.assignee
    new = setup.people[3] if setup.people[3].pk != shift.assignee_id else setup.people[2]
    with time_machine.travel(datetime(2031, 2, 1, tzinfo=UTC)):
        reassign(shift, new)
    uid = entry_uid(shift.pk, old.pk)

    with time_machine.travel(datetime(2031, 2, 20, tzinfo=UTC)):
        body = client.get(personal_url(old)).content
        (gone,) = [e for e in events_of(body) if str(e["UID"]) == uid]
        assert gone["STATUS"] == "CANCELLED" and gone["SEQUENCE"] == 1
        (vgone,) = [v for v in vobject.readOne(body.decode()).vevent_list if v.uid.value == uid]
        assert vgone.status.value == "CANCELLED"
        # The new person has it; the team feed simply shows the slot's new holder.
        assert entry_uid(shift.pk, new.pk) in client.get(personal_url(new)).content.decode()
        team = events_of(client.get(team_url(setup.rotation)).content)
        (slot,) = [e for e in team if str(e["UID"]) == entry_uid(shift.pk)]
        assert slot["STATUS"] == "CONFIRMED" and slot["ATTENDEE"] == f"mailto:{new.email}"
        assert slot["SEQUENCE"] == 1

    with time_machine.travel(datetime(2031, 3, 5, tzinfo=UTC)):
        assert uid not in client.get(personal_url(old)).content.decode()


def test_a_superseded_roster_shows_as_cancelled_in_the_team_feed(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    with time_machine.travel(datetime(2031, 2, 1, tzinfo=UTC)):
        first = publish(setup, *MARCH)
        publish(setup, *MARCH, offset=1)
    with time_machine.travel(datetime(2031, 2, 2, tzinfo=UTC)):
        events = events_of(client.get(team_url(setup.rotation)).content)
    old_uids = {entry_uid(s.pk) for s in Shift.objects.filter(roster=first)}
    statuses = {str(e["UID"]): str(e["STATUS"]) for e in events}
    assert {statuses[uid] for uid in old_uids} == {"CANCELLED"}
    assert list(statuses.values()).count("CONFIRMED") == 10


def test_feed_queries_do_not_grow_with_the_number_of_shifts(client, django_assert_max_num_queries):
    setup = make_team(4, pattern=Rotation.Pattern.DAILY)
    publish(setup, date(2031, 3, 1), date(2031, 6, 1))  # 92 days, 184 slots
    url = team_url(setup.rotation)
    # Two of them read the escalation contacts' time away and team memberships, for all shifts
    # at once.
    with django_assert_max_num_queries(10):
        response = client.get(url)
    assert len(events_of(response.content)) == 184


# --------------------------------------------------------------------------- ETag and cache


def _partner_of(roster, me) -> Shift:
    mine = Shift.objects.filter(roster=roster, assignee=me).order_by("start").first()
    return Shift.objects.exclude(pk=mine.pk).get(roster=roster, start=mine.start)


@pytest.mark.parametrize("change", ["phone", "name", "email"])
def test_a_partners_new_phone_name_or_address_changes_both_feeds(client, change):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    roster = publish(setup, *MARCH)
    me = setup.people[0]
    partner = _partner_of(roster, me).assignee
    urls = [personal_url(me), team_url(setup.rotation)]
    before = [client.get(url) for url in urls]
    # A queryset update, as an admin action or a script would do: no signal, no timestamp.
    if change == "phone":
        Person.objects.filter(user=partner).update(phone="+1 555 0100")
        new = b"+1 555 0100"
    elif change == "name":
        User.objects.filter(pk=partner.pk).update(first_name="Zelda")
        new = b"Zelda"
    else:
        User.objects.filter(pk=partner.pk).update(email="zelda@elsewhere.example")
        new = b"zelda@elsewhere.example"
    for url, old in zip(urls, before, strict=True):
        again = client.get(url, HTTP_IF_NONE_MATCH=old["ETag"])
        assert again.status_code == 200 and again["ETag"] != old["ETag"]
        assert new in again.content.replace(b"\r\n ", b"")


def test_my_own_new_name_changes_my_feed(client):
    setup = make_team(3, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    me = setup.people[0]
    url = personal_url(me)
    etag = client.get(url)["ETag"]
    User.objects.filter(pk=me.pk).update(first_name="Renamed")
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again["ETag"] != etag
    assert icalendar.Calendar.from_ical(again.content)["X-WR-CALNAME"].startswith(
        "On call: Renamed"
    )


def test_the_escalation_contacts_phone_and_a_new_mentor_change_the_etag(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    me, lead = setup.people[0], setup.boss
    url = personal_url(me)
    etags = [client.get(url)["ETag"]]
    Person.objects.filter(user=lead).update(phone="+44 1 2345")  # the lead, in every chain
    etags.append(client.get(url)["ETag"])
    Person.objects.filter(user__in=setup.people).update(mentor=setup.people[1])
    etags.append(client.get(url)["ETag"])
    Person.objects.filter(user=setup.people[1]).update(phone="+44 9 8765")  # the new mentor
    response = client.get(url)
    etags.append(response["ETag"])
    assert len(set(etags)) == 4
    assert b"+44 9 8765" in response.content.replace(b"\r\n ", b"")


def test_a_renamed_rotation_or_team_and_a_new_runbook_change_the_etag(client):
    setup = make_team(3, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    url = personal_url(setup.people[0])
    etags = [client.get(url)["ETag"]]
    Rotation.objects.filter(pk=setup.rotation.pk).update(name="Renamed rotation")
    etags.append(client.get(url)["ETag"])
    Team.objects.filter(pk=setup.team.pk).update(name="Renamed team")
    etags.append(client.get(url)["ETag"])
    Rotation.objects.filter(pk=setup.rotation.pk).update(runbook_url="https://wiki.example.com/x")
    etags.append(client.get(url)["ETag"])
    assert len(set(etags)) == 4


def test_publish_reassignment_and_a_new_token_change_the_etag(client):
    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    me = setup.people[0]
    url = personal_url(me)
    etags = [client.get(url)["ETag"]]  # nothing published yet: an empty calendar
    roster = publish(setup, *MARCH)
    etags.append(client.get(url)["ETag"])
    partner = _partner_of(roster, me)
    reassign(
        partner, setup.people[3] if partner.assignee_id != setup.people[3].pk else setup.people[2]
    )
    etags.append(client.get(url)["ETag"])  # only my partner changed
    client.force_login(me)
    client.post("/calendar/rotate/", {"feed": "personal"})
    etags.append(client.get(personal_url(me))["ETag"])
    assert len(set(etags)) == 4


def test_a_repeated_poll_is_served_from_the_cache_without_building_entries(
    client, django_assert_max_num_queries
):
    setup = make_team(4, pattern=Rotation.Pattern.DAILY)
    publish(setup, date(2031, 3, 1), date(2031, 6, 1))
    for url, queries in ((personal_url(setup.people[0]), 4), (team_url(setup.rotation), 4)):
        first = client.get(url)
        with django_assert_max_num_queries(queries):
            again = client.get(url)
        # The cached rendering, byte for byte (its signed links included).
        assert again.content == first.content
        assert again["Last-Modified"] == first["Last-Modified"]
        with django_assert_max_num_queries(queries):
            conditional = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert conditional.status_code == 304
        assert conditional["Last-Modified"] == first["Last-Modified"]


def test_feeds_still_work_when_the_cache_is_down(client, monkeypatch):
    from notifications import feeds

    class Down:
        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

            return refuse

    setup = make_team(3, pattern=Rotation.Pattern.WEEKLY)
    publish(setup, *MARCH)
    monkeypatch.setattr(feeds, "cache", Down())
    url = personal_url(setup.people[0])
    response = client.get(url)
    assert response.status_code == 200 and len(events_of(response.content)) > 0
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_a_cached_feed_says_what_a_fresh_rendering_says(client):
    from notifications import feeds
    from notifications.selectors import person_by_feed_token

    setup = make_team(4, pattern=Rotation.Pattern.WEEKLY)
    roster = publish(setup, *MARCH)
    me = setup.people[0]
    shift = Shift.objects.filter(roster=roster, assignee=me).first()
    reassign(shift, setup.people[3] if shift.role == "primary" else setup.people[2])
    client.get(personal_url(me))
    cached = client.get(personal_url(me)).content
    me.person.refresh_from_db()
    fresh = feeds.personal(person_by_feed_token(me.person.feed_token), datetime.now(UTC)).render()

    def unsigned(body: bytes) -> bytes:
        return re.sub(rb"\?t=[^\r\n]+", b"?t=", body.replace(b"\r\n ", b""))

    assert unsigned(cached) == unsigned(fresh.body)
    assert b"STATUS:CANCELLED" in cached
