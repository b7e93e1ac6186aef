"""The slot editor: eligible people first with their share, the others with the reason, and a
refused pick never left selected."""

import re
from datetime import date, time, timedelta

import pytest
import time_machine

from availability import services as availability_services
from onehand.people import display_name
from planning import services as planning_services
from rotation.models import Person
from tests.factories import build_team

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def _draft_with_someone_away():
    setup = build_team(4, names=["Amara", "Ben", "Chloe", "Dev"], handoff_time=time(9))
    roster = planning_services.draft_roster(setup.rotation, *DECEMBER, by=setup.boss)
    slot = roster.shifts.filter(role="primary").order_by("start")[1]
    taken = set(roster.shifts.filter(start=slot.start).values_list("assignee_id", flat=True))
    away = next(p for p in setup.people if p.pk not in taken)
    availability_services.mark(
        slot.start - timedelta(days=1), slot.end, "unavailable", by=away, enforce_lock=False
    )
    return setup, slot, away


def _options(html):
    return re.findall(r"<option value=\"(\d+)\"( selected)?>([^<]*)</option>", html)


@time_machine.travel("2026-11-20 12:00Z")
def test_eligible_people_come_first_with_their_share(client):
    setup, slot, away = _draft_with_someone_away()
    client.force_login(setup.boss)

    html = client.get(f"/slots/{slot.pk}/").content.decode()

    eligible, rest = html.split("Not eligible (needs an override)")
    assert "Eligible (share of a fair share)" in eligible
    assert re.search(r"· \d+%</option>", eligible)
    assert display_name(away) not in eligible
    assert f"{display_name(away)} — {display_name(away)} is away" in rest


@time_machine.travel("2026-11-20 12:00Z")
def test_a_refused_pick_is_not_left_selected(client):
    setup, slot, away = _draft_with_someone_away()
    holder = slot.assignee_id
    client.force_login(setup.boss)

    html = client.post(
        f"/slots/{slot.pk}/assign/", {"assignee": away.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "Refused" in html
    selected = [value for value, chosen, _ in _options(html) if chosen]
    assert selected == [str(holder)]


@time_machine.travel("2026-11-20 12:00Z")
def test_without_javascript_a_refusal_leads_to_the_slot_editor(client):
    setup, slot, away = _draft_with_someone_away()
    client.force_login(setup.boss)

    response = client.post(f"/slots/{slot.pk}/assign/", {"assignee": away.pk}, follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/slots/{slot.pk}/"
    assert "Not changed:" in page and "Override the rule" in page


def _manager_in_london_and_someone_away_in_kolkata():
    setup, slot, away = _draft_with_someone_away()
    Person.objects.filter(user=setup.boss).update(time_zone="Europe/London")
    Person.objects.filter(user=away).update(time_zone="Asia/Kolkata")
    return setup, slot, away


@time_machine.travel("2026-11-20 12:00Z")
def test_the_slot_editor_gives_a_reason_in_the_managers_zone_named(client):
    setup, slot, away = _manager_in_london_and_someone_away_in_kolkata()
    client.force_login(setup.boss)

    html = client.get(f"/slots/{slot.pk}/").content.decode()

    reason = next(label for _, _, label in _options(html) if display_name(away) in label)
    assert "is away" in reason and "(Europe/London)" in reason
    assert "Asia/Kolkata" not in reason


@time_machine.travel("2026-11-20 12:00Z")
def test_a_refused_pick_is_explained_in_the_managers_zone_named(client):
    setup, slot, away = _manager_in_london_and_someone_away_in_kolkata()
    client.force_login(setup.boss)

    html = client.post(
        f"/slots/{slot.pk}/assign/", {"assignee": away.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()

    refusal = html.split("Refused", 1)[1].split("</", 1)[0]
    assert "(Europe/London)" in refusal and "Asia/Kolkata" not in refusal
