from datetime import date, time

from planning import services as planning_services
from rotation import services
from rotation.models import Roster
from tests.factories import build_team

DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def published_team(size: int = 10, *, period=DECEMBER, **rotation_fields):
    """A team with a published roster (December unless `period` says otherwise) of a weekly
    London rotation."""
    setup = build_team(
        size,
        boss_fields={"first_name": "Maya"},
        time_zone="Europe/London",
        handoff_time=time(9),
        **rotation_fields,
    )
    team, boss, people, rotation = setup.team, setup.boss, setup.people, setup.rotation
    roster = planning_services.draft_roster(rotation, *period, by=boss)
    services.publish_roster(roster, by=boss)
    roster = Roster.objects.get(pk=roster.pk)
    return {"team": team, "boss": boss, "people": people, "rotation": rotation, "roster": roster}
