from django.core.management.base import BaseCommand
from django.utils import timezone

from planning.demo import DEMO_PASSWORD, MANAGER, PEOPLE, seed_demo
from rotation.models import Team


class Command(BaseCommand):
    help = "Create the demo team (a manager, 12 engineers, 2 rotations, 6 months of history)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any team exists."
        )

    def handle(self, *args, if_empty: bool = False, **options):
        if if_empty and Team.objects.exists():
            self.stdout.write("Teams exist already; demo data not added.")
            return
        team = seed_demo(timezone.now().date())
        self.stdout.write(self.style.SUCCESS(f"Demo team {team.name!r} ready."))
        self.stdout.write(f"Manager login: {MANAGER[0]} / {DEMO_PASSWORD}")
        self.stdout.write(f"Engineer logins: {', '.join(p[0] for p in PEOPLE)} / {DEMO_PASSWORD}")
