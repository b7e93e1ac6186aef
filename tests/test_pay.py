"""On-call pay: a manager sets rates and exports what each person earned from the hours held."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from incidents.services import record_incident
from onehand.errors import Invalid, NotAllowed, NotFound
from planning.pay import pay_report, set_pay_rates
from rotation.models import Person, Roster, Shift
from rotation.permissions import SYSTEM
from tests.factories import build_team, reassign

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
LATER = datetime(2027, 6, 1, tzinfo=UTC)  # every month below has ended by then
RATES = {
    "currency": "EUR",
    "weekday_hour": Decimal("2.00"),
    "weekend_hour": Decimal("3.00"),
    "holiday_hour": Decimal("5.00"),
    "per_incident": Decimal("20.00"),
}


def lives_in(user, zone: str, country: str) -> None:
    Person.objects.filter(user=user).update(time_zone=zone, country=country)


def published(setup, *shifts, status=Roster.Status.PUBLISHED) -> Roster:
    """A roster holding exactly these (user, role, start, end) shifts."""
    first = min(s[2] for s in shifts)
    last = max(s[3] for s in shifts)
    roster = Roster.objects.create(
        rotation=setup.rotation,
        period_start=first.date() - timedelta(days=1),
        period_end=last.date() + timedelta(days=1),
        status=status,
    )
    for user, role, start, end in shifts:
        Shift.objects.create(roster=roster, role=role, start=start, end=end, assignee=user)
    return roster


def line_of(lines, user, month: date):
    return next(line for line in lines if line.person_id == user.pk and line.month == month)


def report(setup, first: date, last: date | None = None, viewer=None):
    return pay_report(
        team=setup.team,
        viewer=viewer or setup.boss,
        first_month=first,
        last_month=last or first,
        now=LATER,
    )


@pytest.fixture
def team():
    setup = build_team(3, names=["Amara", "Dev", "Kenji"])
    set_pay_rates(team=setup.team, by=setup.boss, **RATES)
    return setup


def test_a_weekend_across_the_autumn_clock_change_pays_the_extra_hour(team):
    amara = team.people[0]
    lives_in(amara, "Europe/Berlin", "DE")
    # Saturday 09:00 to Monday 09:00 Berlin; Sunday 25 October 2026 has 25 hours there.
    start = datetime(2026, 10, 24, 9, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2026, 10, 26, 9, tzinfo=BERLIN).astimezone(UTC)
    published(team, (amara, "primary", start, end))

    line = line_of(report(team, date(2026, 10, 1)), amara, date(2026, 10, 1))

    assert line.weekend_hours == Decimal("40.00")  # 15 on Saturday + 25 on Sunday
    assert line.weekday_hours == Decimal("9.00")
    assert line.amount == Decimal("138.00")  # 40 x 3 + 9 x 2


def test_a_public_holiday_pays_the_holiday_rate_of_the_holders_own_country(team):
    amara, kenji = team.people[0], team.people[2]
    lives_in(amara, "Europe/London", "GB")
    lives_in(kenji, "Asia/Tokyo", "JP")
    # 24 December 12:00 to 25 December 12:00 London, a Thursday into Christmas Day.
    start = datetime(2026, 12, 24, 12, tzinfo=LONDON).astimezone(UTC)
    end = datetime(2026, 12, 25, 12, tzinfo=LONDON).astimezone(UTC)
    published(team, (amara, "primary", start, end), (kenji, "secondary", start, end))

    lines = report(team, date(2026, 12, 1))
    in_london = line_of(lines, amara, date(2026, 12, 1))
    in_tokyo = line_of(lines, kenji, date(2026, 12, 1))

    assert (in_london.weekday_hours, in_london.holiday_hours) == (Decimal(12), Decimal(12))
    assert in_london.amount == Decimal("84.00")
    # Christmas is not a public holiday in Japan: the same 24 hours are weekday hours there.
    assert (in_tokyo.weekday_hours, in_tokyo.holiday_hours) == (Decimal(24), Decimal(0))
    assert in_tokyo.amount == Decimal("48.00")


def test_a_month_is_the_holders_own_calendar_month(team):
    kenji = team.people[2]
    lives_in(kenji, "Asia/Tokyo", "JP")
    # 30 November 20:00 UTC is already 1 December 05:00 in Tokyo.
    start = datetime(2026, 11, 30, 20, tzinfo=UTC)
    published(team, (kenji, "primary", start, start + timedelta(hours=10)))

    lines = report(team, date(2026, 11, 1), date(2026, 12, 1))

    assert line_of(lines, kenji, date(2026, 11, 1)).hours == 0
    assert line_of(lines, kenji, date(2026, 12, 1)).hours == Decimal(10)


def test_a_swap_moves_the_pay_with_the_shift(team):
    amara, dev = team.people[0], team.people[1]
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday
    roster = published(team, (amara, "primary", start, start + timedelta(hours=8)))

    reassign(roster.shifts.get(), dev)
    lines = report(team, date(2026, 11, 1))

    assert line_of(lines, amara, date(2026, 11, 1)).amount == 0
    assert line_of(lines, dev, date(2026, 11, 1)).amount == Decimal("16.00")


def test_a_superseded_roster_is_not_paid_twice(team):
    amara = team.people[0]
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    shift = (amara, "primary", start, start + timedelta(hours=8))
    published(team, shift, status=Roster.Status.SUPERSEDED)
    published(team, shift)

    line = line_of(report(team, date(2026, 11, 1)), amara, date(2026, 11, 1))

    assert line.weekday_hours == Decimal(8)


def test_shadow_shifts_are_paid_only_when_the_team_says_so(team):
    amara = team.people[0]
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    published(team, (amara, "shadow", start, start + timedelta(hours=8)))

    unpaid = line_of(report(team, date(2026, 11, 1)), amara, date(2026, 11, 1))
    set_pay_rates(team=team.team, by=team.boss, pay_shadow=True, **RATES)
    paid = line_of(report(team, date(2026, 11, 1)), amara, date(2026, 11, 1))

    assert (unpaid.amount, paid.amount) == (0, Decimal("16.00"))


def test_incidents_pay_per_incident_to_the_person_on_call(team):
    amara = team.people[0]
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    published(team, (amara, "primary", start, start + timedelta(days=1)))
    for minutes in (30, 90):
        record_incident(
            team.rotation,
            by=team.boss,
            title=f"Checkout errors {minutes}",
            started_at=start + timedelta(minutes=minutes),
        )

    line = line_of(report(team, date(2026, 11, 1)), amara, date(2026, 11, 1))

    assert line.incidents == 2
    assert line.amount == Decimal("88.00")  # 24 h x 2 + 2 x 20


def test_a_month_still_running_is_provisional(team):
    amara = team.people[0]
    now = timezone.now()
    month = now.date().replace(day=1)

    lines = pay_report(
        team=team.team, viewer=team.boss, first_month=month, last_month=month, now=now
    )

    assert line_of(lines, amara, month).provisional


def test_an_engineer_sees_only_their_own_pay(team):
    amara = team.people[0]

    lines = report(team, date(2026, 11, 1), viewer=amara)

    assert [line.person_id for line in lines] == [amara.pk]


def test_an_outsider_sees_no_pay():
    ours, theirs = build_team(1, prefix="ours-"), build_team(1, prefix="theirs-")

    with pytest.raises(NotFound):
        report(ours, date(2026, 11, 1), viewer=theirs.boss)


def test_only_a_manager_sets_the_rates(team):
    with pytest.raises(NotAllowed):
        set_pay_rates(team=team.team, by=team.people[0], **RATES)


def test_a_negative_rate_is_refused(team):
    with pytest.raises(Invalid):
        set_pay_rates(team=team.team, by=SYSTEM, **{**RATES, "weekend_hour": Decimal("-1")})


def test_a_report_covers_at_most_a_year(team):
    with pytest.raises(Invalid):
        report(team, date(2026, 1, 1), date(2027, 1, 1))


def test_the_csv_export_lists_each_person_and_month(client, team):
    amara = team.people[0]
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    published(team, (amara, "primary", start, start + timedelta(hours=8)))
    client.force_login(team.boss)

    response = client.get(f"/teams/{team.team.slug}/pay/?format=csv&from=2026-10&to=2026-11")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))

    assert response.status_code == 200
    assert len(rows) == 2 * 4  # three engineers and their manager, two months
    amara_november = next(r for r in rows if r["month"] == "2026-11" and "Amara" in r["person"])
    assert (amara_november["amount"], amara_november["currency"]) == ("16.00", "EUR")


def test_the_pay_page_shows_the_month_and_lets_a_manager_change_rates(client, team):
    client.force_login(team.boss)

    page = client.get(f"/teams/{team.team.slug}/pay/?month=2026-11")
    saved = client.post(
        f"/teams/{team.team.slug}/pay/",
        {
            "month": "2026-11",
            "currency": "gbp",
            "weekday_hour": "4",
            "weekend_hour": "6",
            "holiday_hour": "8",
            "per_incident": "0",
        },
    )

    assert "November 2026" in page.content.decode()
    assert saved.status_code == 302
    team.team.pay_rates.refresh_from_db()
    assert team.team.pay_rates.currency == "GBP"


def test_the_api_answers_pay_lines_and_refuses_a_bad_month(client, team):
    client.force_login(team.boss)

    good = client.get(f"/api/teams/{team.team.pk}/pay/?from=2026-11")
    bad = client.get(f"/api/teams/{team.team.pk}/pay/?from=November")

    assert good.status_code == 200
    assert {line["currency"] for line in good.json()} == {"EUR"}
    assert bad.status_code == 400


def test_an_engineer_cannot_change_rates_through_the_api(client, team):
    client.force_login(team.people[0])

    response = client.put(
        f"/api/teams/{team.team.pk}/pay-rates/",
        {**{k: str(v) for k, v in RATES.items()}},
        content_type="application/json",
    )

    assert response.status_code == 403


@pytest.mark.parametrize("size", [5, 50])
def test_the_pay_page_costs_the_same_queries_for_5_and_50_people(
    client, django_assert_max_num_queries, size
):
    setup = build_team(size, prefix=f"q{size}-")
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    published(
        setup,
        *[
            (person, "primary", start + timedelta(days=i), start + timedelta(days=i, hours=8))
            for i, person in enumerate(setup.people[:20])
        ],
    )
    client.force_login(setup.boss)

    with django_assert_max_num_queries(14):
        response = client.get(f"/teams/{setup.team.slug}/pay/?month=2026-11")

    assert response.status_code == 200
