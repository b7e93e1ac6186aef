from datetime import date, time

from planning import services as planning_services
from rotation import services
from rotation.models import Roster
from tests.factories import RotationFactory, TeamFactory, engineer, join_rotation, manager

DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))


def published_team(size: int = 10, **rotation_fields):
    """A team with a published December roster of a weekly London rotation."""
    team = TeamFactory()
    boss = manager(team, username=f"boss-{team.slug}", first_name="Maya")
    people = [engineer(team, first_name=f"Eng{i}") for i in range(size)]
    rotation = RotationFactory(
        team=team, time_zone="Europe/London", handoff_time=time(9), lead=boss, **rotation_fields
    )
    join_rotation(rotation, *people)
    roster = planning_services.draft_roster(rotation, *DECEMBER, by=boss)
    services.publish_roster(roster, by=boss)
    roster = Roster.objects.get(pk=roster.pk)
    return {"team": team, "boss": boss, "people": people, "rotation": rotation, "roster": roster}
