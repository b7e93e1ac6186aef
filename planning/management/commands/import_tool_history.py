import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from onehand.errors import Invalid
from planning import tool_history
from rotation.models import Rotation
from rotation.permissions import SYSTEM


class Command(BaseCommand):
    help = (
        "Import past shifts from another scheduler's iCal export or feed (PagerDuty, Opsgenie, "
        "Grafana OnCall) or CSV export into a rotation. Without --confirm it only previews: who "
        "each name maps to and which are unknown. With --confirm, all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("rotation", type=int, help="the rotation's id")
        parser.add_argument("source", help="a file, or an https:// feed address")
        parser.add_argument("--role", default="primary")
        parser.add_argument("--time-zone", default="", help="zone of CSV times without offset")
        parser.add_argument("--tool", default="", help="label for the audit log")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="NAME=USERNAME",
            help="map a name in the file to a username; NAME= skips that name's shifts",
        )
        parser.add_argument("--confirm", action="store_true", help="write the shifts")

    def handle(self, *args, rotation: int, source: str, **options):
        found = Rotation.objects.filter(pk=rotation).select_related("team").first()
        if found is None:
            raise CommandError(f"No rotation {rotation}.")
        try:
            if source.startswith(("http://", "https://", "webcal://")):
                data = tool_history.read_source(
                    data=None,
                    url=source,
                    allow_private=getattr(settings, "ONEHAND_ICS_ALLOW_PRIVATE", False),
                )
            else:
                with open(source, "rb") as handle:
                    data = handle.read(tool_history.MAX_UPLOAD_BYTES + 1)
            mapping = tool_history.mapping_from_usernames(found, options["map"])
            common = {
                "by": SYSTEM,
                "role": options["role"],
                "time_zone": options["time_zone"],
                "mapping": mapping,
            }
            if options["confirm"]:
                count = tool_history.import_tool_history(
                    found, data, tool=options["tool"], **common
                )
                self.stdout.write(self.style.SUCCESS(f"Imported {count} past shifts."))
                return
            preview = tool_history.preview_tool_history(found, data, **common)
        except OSError as exc:
            raise CommandError(f"Can't read {source}: {exc}") from None
        except Invalid as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(tool_history.preview_as_dict(preview), indent=2))
