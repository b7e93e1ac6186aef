import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from rotation.backup import BackupError, counts, import_team
from rotation.permissions import SYSTEM


class Command(BaseCommand):
    help = (
        "Import a team exported with export_team into this instance, with new ids, in one "
        "transaction. Refuses (and changes nothing) when the team's slug or a username exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the export file ('-' reads standard input)")

    def handle(self, *args, file: str, **options):
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, encoding="utf-8") as handle:
                    text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Can't read {file}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not JSON ({exc}); is it an export_team file?") from None
        try:
            team = import_team(data, by=SYSTEM)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if connection.vendor == "postgresql":
            # Thousands of rows just arrived: without fresh statistics (autovacuum off, or not
            # yet run) the planner picks plans 10-20x slower for the shift queries.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        summary = ", ".join(
            f"{n} {name.replace('_', ' ')}" for name, n in counts(data).items() if n
        )
        self.stdout.write(
            self.style.SUCCESS(f"Imported team {team.name!r} ({team.slug}): {summary}.")
        )
        if not data.get("password_hashes"):
            self.stdout.write(
                "The users have no password yet: set one with `manage.py changepassword "
                "<username>` "
                "or in the admin."
            )
        self.stdout.write(
            "Calendar feeds have new addresses: people subscribe again from their Calendar page "
            "(and reconnect CalDAV and calendar addresses)."
        )
