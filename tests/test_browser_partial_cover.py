"""In a real browser, from real e-mails: an engineer asks cover for Thursday evening of their
week, a colleague takes it from the e-mail, and both calendars (invites and feeds, read by
icalendar and vobject) show the right times."""

import re
from datetime import UTC, datetime

import icalendar
import pytest
from playwright.sync_api import expect

from notifications.selectors import entry_uid
from rotation.models import Person, Shift, SwapOffer
from tests.calendar_parsers import with_icalendar, with_vobject
from tests.partial_support import THURSDAY_EVENING, published_team, week_shift

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def calendar_bytes(message) -> bytes | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar" and not part.get_filename():
            return part.get_payload(decode=True)
    return None


def link_in(message, marker: str, live_url: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    url = next(line.strip().split()[-1] for line in body.splitlines() if marker in line)
    return re.sub(r"^https?://[^/]+", live_url, url)


def events_mailed_to(smtp_server, user) -> dict:
    """UID -> (start, end) as each of two parsers reads the invites, checked to agree."""
    seen = {}
    for message in smtp_server.messages:
        body = calendar_bytes(message)
        if message["To"] != user.email or body is None:
            continue
        by_icalendar, by_vobject = with_icalendar(body), with_vobject(body)
        assert by_icalendar.events == by_vobject.events
        if icalendar.Calendar.from_ical(body).get("METHOD") == "REQUEST":
            seen.update(by_icalendar.events)
    return seen


def test_an_evening_inside_a_week_is_covered_from_the_email(
    live_server, page, smtp_server, settings
):
    settings.ONEHAND_SITE_URL = settings.SITE_URL = "http://onehand.test"
    team = published_team(size=10)
    shift = week_shift(team)
    holder = shift.assignee
    Person.objects.filter(user__in=team["people"]).update(time_zone="Europe/London")
    invite = next(
        m
        for m in smtp_server.messages
        if m["To"] == holder.email
        and calendar_bytes(m) is not None
        and f"shift-{shift.pk}-".encode() in calendar_bytes(m)
    )
    cant = link_in(invite, "/cant-make-it/", live_server.url)
    smtp_server.messages.clear()

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(cant)
    expect(page.get_by_role("heading", name="Can't make it?")).to_be_visible()
    page.get_by_label("Only part of it").check()
    page.get_by_label("Part from").fill("2026-12-10T18:00")
    page.get_by_label("Part until").fill("2026-12-10T23:00")
    page.get_by_role("button", name="Find a replacement").click()
    expect(page.get_by_text("Cover asked for only part of the shift")).to_be_visible()

    first = SwapOffer.objects.filter(request__shift=shift).order_by("rank").first()
    colleague = first.candidate
    ask = next(
        m
        for m in smtp_server.messages
        if m["To"] == colleague.email and m["Subject"].startswith("Can you take part of")
    )
    assert "Thu 10 Dec" in ask.get_body(preferencelist=("plain",)).get_content()
    smtp_server.messages.clear()
    page.goto(link_in(ask, "Accept:", live_server.url))
    expect(page.get_by_text("can't make part of their")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Accept")).click()
    expect(page.get_by_text("You took that part of the shift")).to_be_visible()

    pieces = list(
        Shift.objects.filter(roster=team["roster"], role="primary")
        .filter(start__gte=shift.start, start__lt=shift.end)
        .order_by("start")
    )
    week_end = datetime(2026, 12, 14, 9, tzinfo=UTC)
    assert [(p.start, p.end, p.assignee_id) for p in pieces] == [
        (shift.start, THURSDAY_EVENING[0], holder.pk),
        (*THURSDAY_EVENING, colleague.pk),
        (THURSDAY_EVENING[1], week_end, holder.pk),
    ]
    mine = events_mailed_to(smtp_server, holder)
    assert mine[entry_uid(pieces[0].pk, holder.pk)] == (shift.start, THURSDAY_EVENING[0])
    assert mine[entry_uid(pieces[2].pk, holder.pk)] == (THURSDAY_EVENING[1], week_end)
    theirs = events_mailed_to(smtp_server, colleague)
    assert theirs[entry_uid(pieces[1].pk, colleague.pk)] == THURSDAY_EVENING

    for person, piece in ((holder, pieces[2]), (colleague, pieces[1])):
        person.person.refresh_from_db()
        feed = page.request.get(f"{live_server.url}/calendar/{person.person.feed_token}.ics")
        assert feed.ok
        for reading in (with_icalendar(feed.body()), with_vobject(feed.body())):
            assert reading.events[entry_uid(piece.pk, person.pk)] == (piece.start, piece.end)
