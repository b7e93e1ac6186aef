"""Partial cover in everyone's calendars: the requester's week shortens (same UID, higher
SEQUENCE) and the rest comes back as a new entry; the colleague gets the part. Feeds and
invites are read by three parsers (icalendar, vobject, ical.js) across a clock change."""

from datetime import UTC, datetime

import icalendar
import pytest
import time_machine
from django.core import mail

from notifications import dispatch
from notifications.selectors import entry_uid
from planning import swaps
from rotation.models import Shift
from tests.calendar_parsers import PARSERS, install_icaljs, read_all
from tests.partial_support import MARCH_2027, published_team

pytestmark = pytest.mark.django_db

NOW = "2027-02-20 12:00Z"
# Mon 22 Mar 09:00 GMT – Mon 29 Mar 09:00 BST; the clocks go forward on Sun 28 Mar 01:00 UTC.
# The part: Sat 27 Mar 18:00 GMT – Sun 28 Mar 18:00 BST, across the change (23 hours).
PART = (datetime(2027, 3, 27, 18, tzinfo=UTC), datetime(2027, 3, 28, 17, tzinfo=UTC))


@pytest.fixture(scope="session")
def icaljs():
    return install_icaljs()


def feed(client, user) -> bytes:
    user.person.refresh_from_db()
    response = client.get(f"/calendar/{user.person.feed_token}.ics")
    assert response.status_code == 200
    return response.content


def calendars_mailed_to(user) -> list[bytes]:
    bodies = []
    for message in mail.outbox:
        if message.to != [user.email]:
            continue
        for part in message.message().walk():
            if part.get_content_type() == "text/calendar" and not part.get_filename():
                bodies.append(part.get_payload(decode=True))
    return bodies


@pytest.fixture
def split_week(django_capture_on_commit_callbacks):
    """The week of the clock change, its Saturday evening to Sunday evening covered."""
    with time_machine.travel(NOW):
        team = published_team(period=MARCH_2027)
        shift = team["roster"].shifts.get(
            role="primary", start=datetime(2027, 3, 22, 9, tzinfo=UTC)
        )
        requester = shift.assignee
        dispatch.sweep(grace=0)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            request = swaps.request_swap(shift, part=PART, by=requester)
            offer = request.offers.select_related("candidate").order_by("rank").first()
            swaps.accept_offer(offer, by=offer.candidate)
        dispatch.sweep(grace=0)
    pieces = list(
        Shift.objects.filter(roster=team["roster"], role="primary")
        .filter(start__gte=shift.start, start__lt=datetime(2027, 3, 29, 8, tzinfo=UTC))
        .order_by("start")
    )
    return {"team": team, "requester": requester, "colleague": offer.candidate, "pieces": pieces}


def expected(pieces, user) -> dict:
    return {entry_uid(p.pk, user.pk): (p.start, p.end) for p in pieces if p.assignee_id == user.pk}


def test_the_week_of_the_clock_change_splits_at_the_right_instants(split_week):
    assert [(p.start, p.end) for p in split_week["pieces"]] == [
        (datetime(2027, 3, 22, 9, tzinfo=UTC), PART[0]),
        PART,
        (PART[1], datetime(2027, 3, 29, 8, tzinfo=UTC)),
    ]


def test_both_feeds_show_the_pieces_at_the_databases_hours_in_every_parser(
    split_week, client, icaljs
):
    pieces = split_week["pieces"]
    people = (split_week["requester"], split_week["colleague"])
    bodies = [feed(client, person) for person in people]
    readings = read_all(bodies)
    for parser in PARSERS:
        for person, parsed in zip(people, readings[parser], strict=True):
            for uid, times in expected(pieces, person).items():
                assert parsed.events[uid] == times, (parser, person.username, uid)


def test_the_invites_carry_the_pieces_at_the_databases_hours_in_every_parser(split_week, icaljs):
    pieces = split_week["pieces"]
    for person in (split_week["requester"], split_week["colleague"]):
        bodies = calendars_mailed_to(person)
        assert bodies, f"no invite for {person.username}"
        readings = read_all(bodies)
        for parser in PARSERS:
            seen = {}
            for parsed in readings[parser]:
                seen.update(parsed.events)
            for uid, times in expected(pieces, person).items():
                assert seen[uid] == times, (parser, person.username, uid)


def test_the_requesters_shortened_week_is_an_update_of_the_same_entry(split_week):
    original = split_week["pieces"][0]
    uid = entry_uid(original.pk, split_week["requester"].pk)
    events = [
        event
        for body in calendars_mailed_to(split_week["requester"])
        for event in icalendar.Calendar.from_ical(body).walk("VEVENT")
        if str(event["UID"]) == uid
    ]
    assert len(events) == 1
    assert int(events[0]["SEQUENCE"]) >= 1
    assert events[0]["DTEND"].dt.astimezone(UTC) == PART[0]


def test_the_colleagues_entry_says_it_is_part_of_the_week_in_words(split_week, client):
    calendar = icalendar.Calendar.from_ical(feed(client, split_week["colleague"]))
    part = split_week["pieces"][1]
    uid = entry_uid(part.pk, split_week["colleague"].pk)
    (event,) = [e for e in calendar.walk("VEVENT") if str(e["UID"]) == uid]
    assert "(part of the shift)" in str(event["SUMMARY"])
    description = str(event["DESCRIPTION"])
    assert "Part of the shift Mon 22 Mar 2027 09:00 GMT – Mon 29 Mar 2027 09:00 BST" in description
    assert "Partner:" in description and "Partner: none" not in description
