"""The whole demo: the core team and history, then requirements, availability and allocation."""

from datetime import date

from django.db import transaction

from availability.demo import seed_availability_demo
from rotation.demo import DEMO_PASSWORD, MANAGER, PEOPLE, seed_rotation_demo
from rotation.models import Team

__all__ = ["DEMO_PASSWORD", "MANAGER", "PEOPLE", "seed_demo"]


@transaction.atomic
def seed_demo(today: date, *, months_of_history: int = 6) -> Team:
    team = seed_rotation_demo(today, months_of_history=months_of_history)
    seed_availability_demo(team, today)
    return team
