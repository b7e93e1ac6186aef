import json
import os

from django.core.management.base import BaseCommand, CommandError

from rotation.backup import BackupError, counts, export_team
from rotation.models import Team


class Command(BaseCommand):
    help = (
        "Export a team as JSON: memberships, people, rotations, rosters, shifts, audit log, swaps, "
        "handover notes and availability. No secrets (feed tokens, API tokens, CalDAV and calendar "
        "addresses) and, unless asked for, no password hashes."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the team's slug")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument(
            "--with-password-hashes",
            action="store_true",
            help="include the users' password hashes so they can log in after a restore "
            "(the file is then as sensitive as the database)",
        )

    def handle(
        self,
        *args,
        slug: str,
        output: str | None = None,
        with_password_hashes: bool = False,
        **options,
    ):
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise CommandError(f"No team with the slug {slug!r}.")
        try:
            data = export_team(team, with_password_hashes=with_password_hashes)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        if not output or output == "-":
            self.stdout.write(text, ending="")
            return
        # Names, emails and phones (and maybe hashes): readable by the owner only.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        summary = ", ".join(
            f"{n} {name.replace('_', ' ')}" for name, n in counts(data).items() if n
        )
        self.stderr.write(f"Exported team {team.name!r} to {output}: {summary}.")
