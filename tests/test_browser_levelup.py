"""In a real browser: a newcomer sees her path to primary; a manager sees the bus factor."""

from datetime import date

import pytest
from playwright.sync_api import expect

from planning.services import draft_roster
from rotation.history import import_history
from tests.factories import build_team
from tests.test_experience import history_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def payments():
    setup = build_team(2, names=["Amara", "Dev"], name="Payments API", has_shadow=True)
    amara, dev = setup.people
    import_history(
        setup.team,
        history_csv(
            setup.rotation,
            [(amara, "shadow", "2026-05-04")]
            + [(dev, "secondary", day) for day in ("2026-05-04", "2026-05-11")]
            + [(dev, "primary", day) for day in ("2026-05-18", "2026-05-25")],
        ),
        by=setup.boss,
    )
    return setup


def test_a_newcomer_sees_her_path_to_primary(live_server, page, login, payments):
    login(payments.people[0].username)

    panel = page.get_by_label("Your experience in Payments API")
    expect(panel).to_contain_text("Newcomer")
    expect(panel).to_contain_text("0 primary, 0 secondary and 1 shadow shift served")
    expect(panel).to_contain_text("Next step: 1 more shadow shift before secondary.")
    path = panel.get_by_role("list", name="Path to primary")
    expect(path.get_by_role("listitem")).to_have_count(4)
    expect(path.locator("[aria-current=step]")).to_contain_text("Newcomer: shadow 2 shifts")
    expect(path).to_contain_text("Primary-ready: your first 2 primary shifts are paired")


def test_a_manager_sees_the_bus_factor_chart(live_server, page, login, payments):
    login(payments.boss.username)
    page.goto(
        f"{live_server.url}/rotations/{payments.rotation.pk}/report/?from=2026-04-01&to=2026-07-01"
    )

    chart = page.get_by_role("img", name="People ready for primary, by month")
    expect(chart).to_be_visible()
    expect(page.locator("#bus-caption")).to_have_text(
        "People ready for primary: 0 in April 2026, 1 in June 2026 (rising); "
        "the rotation warns below 2, as in April 2026, May 2026, June 2026."
    )
    page.get_by_text("The same as a table").click()
    expect(page.get_by_role("row", name="June 2026 1")).to_be_visible()


def test_a_manager_sees_why_a_newcomer_is_paired(live_server, page, login, payments):
    """Amara (a newcomer) holds a primary week only with Dev, who has served primaries."""
    roster = draft_roster(payments.rotation, date(2027, 1, 4), date(2027, 2, 1), by=payments.boss)
    amara_primary = roster.shifts.filter(role="primary", assignee=payments.people[0]).first()
    assert amara_primary is not None, "the draft gives the newcomer a primary week"
    login(payments.boss.username)
    page.goto(f"{live_server.url}/rosters/{roster.pk}/")

    slot = page.locator(f"#slot-{amara_primary.pk}")
    slot.get_by_text("Why?").click()

    expect(slot).to_contain_text("paired with Dev")
    expect(slot).to_contain_text("Amara")
