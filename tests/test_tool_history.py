"""A team leaving PagerDuty, Opsgenie or Grafana OnCall brings its past shifts: iCal exports or
feeds and CSV exports, people mapped by e-mail or name, previewed first, then all or nothing."""

import http.server
import io
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from onehand.errors import Invalid, NotAllowed
from planning.tool_history import import_tool_history, preview_tool_history
from rotation.models import AuditEntry, Roster, Shift
from tests.factories import build_team

User = get_user_model()
pytestmark = pytest.mark.django_db

EXPORTS = Path(__file__).parent / "tool_exports"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PEOPLE = [
    ("Amara", "Okafor"),
    ("Ben", "Carter"),
    ("Chloe", "Dubois"),
    ("Dev", "Mistry"),
    ("Elena", "Garcia"),
    ("Frank", "Ito"),
    ("Grace", "Hopper"),
]


def team_leaving_another_tool(time_zone="Europe/London"):
    """The team as it is known in the other tool: real names, addresses, short usernames."""
    setup = build_team(len(PEOPLE), time_zone=time_zone, name="Payments API")
    for user, (first, last) in zip(setup.people, PEOPLE, strict=True):
        user.first_name, user.last_name = first, last
        user.username = first.lower()
        user.email = f"{first.lower()}.{last.lower()}@example.com"
        user.save()
    return setup


def export(name: str) -> bytes:
    return (EXPORTS / name).read_bytes()


def person(setup, first: str):
    return next(u for u in setup.people if u.first_name == first)


def imported(setup) -> list[tuple[str, float, datetime]]:
    return [
        (s.assignee.first_name, (s.end - s.start).total_seconds() / 3600, s.start)
        for s in Shift.objects.filter(roster__rotation=setup.rotation)
        .select_related("assignee")
        .order_by("start")
    ]


def test_a_pagerduty_feed_imports_every_past_shift_to_the_person_by_email():
    setup = team_leaving_another_tool()
    count = import_tool_history(
        setup.rotation, export("pagerduty_schedule.ics"), by=setup.boss, tool="PagerDuty", now=NOW
    )
    assert count == 5
    assert [(name, hours) for name, hours, _ in imported(setup)] == [
        ("Amara", 168),
        ("Ben", 167),  # Britain moved its clocks on 29 March: 09:00 to 09:00 is 167 hours
        ("Chloe", 48),
        ("Dev", 24),  # the override splits Chloe's week
        ("Chloe", 96),
    ]
    roster = Roster.objects.get(rotation=setup.rotation)
    assert roster.status == Roster.Status.IMPORTED
    audit = AuditEntry.objects.get(roster=roster)
    assert audit.summary == "Imported 5 past shifts from PagerDuty export"


def test_the_shift_still_running_in_the_feed_is_left_to_onehand():
    setup = team_leaving_another_tool()
    preview = preview_tool_history(
        setup.rotation, export("pagerduty_schedule.ics"), by=setup.boss, now=NOW
    )
    assert preview.left_out_future == 1
    assert preview.shifts == 5
    assert preview.last == datetime(2026, 4, 6, 8, 0, tzinfo=UTC)


def test_an_opsgenie_export_previews_the_mapping_and_the_unknown_name_and_writes_nothing():
    setup = team_leaving_another_tool()
    preview = preview_tool_history(
        setup.rotation, export("opsgenie_schedule.ics"), by=setup.boss, now=NOW
    )
    assert preview.format == "ics"
    assert {label: name for label, (_, name) in preview.mapping.items()} == {
        "Ben Carter": "Ben Carter",
        "Elena Garcia": "Elena Garcia",
        "Chloe Dubois": "Chloe Dubois",
    }
    assert preview.unknown == {"Zoe Contractor": 1}
    assert preview.shifts == 5
    assert not Shift.objects.exists()
    assert not Roster.objects.exists()


def test_an_opsgenie_export_imports_once_the_manager_maps_the_unknown_name():
    setup = team_leaving_another_tool()
    dev = person(setup, "Dev")
    count = import_tool_history(
        setup.rotation,
        export("opsgenie_schedule.ics"),
        by=setup.boss,
        mapping={"Zoe Contractor": dev.pk},
        now=NOW,
    )
    assert count == 6
    rows = imported(setup)
    assert [(name, hours) for name, hours, _ in rows] == [
        ("Ben", 168),
        ("Elena", 168),
        ("Ben", 167),  # the RRULE's 09:00 Europe/London across 29 March
        ("Chloe", 168),  # RECURRENCE-ID: Chloe took Elena's week
        ("Dev", 168),  # Zoe's override, mapped to Dev; EXDATE removed Ben's week
        ("Elena", 168),
    ]
    assert rows[3][2] == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 09:00 BST


def test_an_unknown_name_can_be_skipped_instead():
    setup = team_leaving_another_tool()
    count = import_tool_history(
        setup.rotation,
        export("opsgenie_schedule.ics"),
        by=setup.boss,
        mapping={"Zoe Contractor": None},
        now=NOW,
    )
    assert count == 5
    assert "Dev" not in [name for name, _, _ in imported(setup)]


def test_a_grafana_oncall_export_maps_usernames_and_applies_the_override_in_new_york_time():
    setup = team_leaving_another_tool(time_zone="America/New_York")
    import_tool_history(
        setup.rotation, export("grafana_oncall_schedule.ics"), by=setup.boss, now=NOW
    )
    rows = imported(setup)
    assert [name for name, _, _ in rows] == [
        "Grace", "Frank", "Grace", "Frank", "Dev", "Frank", "Grace", "Frank",
    ]  # fmt: skip
    hours = {start.date().isoformat(): h for _, h, start in rows}
    assert hours["2026-03-07"] == 23  # 10:00 EST to 10:00 EDT: the clocks went forward on 8 March
    assert hours["2026-03-08"] == 24
    assert rows[4][2] == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # Dev's override, 10:00 EDT


def test_a_csv_export_reads_wall_clock_times_in_the_schedule_zone():
    setup = team_leaving_another_tool()
    count = import_tool_history(
        setup.rotation,
        export("oncall_export.csv"),
        by=setup.boss,
        time_zone="Europe/London",
        now=NOW,
    )
    assert count == 3
    assert [(name, hours) for name, hours, _ in imported(setup)] == [
        ("Amara", 169),  # the clocks went back on 25 October
        ("Ben", 168),  # no address in the file: matched by name
        ("Chloe", 168),
    ]


def test_confirming_while_a_name_is_still_unknown_writes_nothing():
    setup = team_leaving_another_tool()
    with pytest.raises(Invalid) as refused:
        import_tool_history(setup.rotation, export("opsgenie_schedule.ics"), by=setup.boss, now=NOW)
    assert "map or skip these names first: Zoe Contractor" in str(refused.value)
    assert not Shift.objects.exists()


def test_one_bad_row_means_nothing_is_imported():
    setup = team_leaving_another_tool()
    data = export("oncall_export.csv") + (
        b"Payments API Primary,Dev Mistry,,2026-11-12 09:00,2026-11-10 09:00\n"
    )
    with pytest.raises(Invalid) as refused:
        import_tool_history(setup.rotation, data, by=setup.boss, time_zone="Europe/London", now=NOW)
    assert "ends before it starts" in str(refused.value)
    assert not Shift.objects.exists()


def test_importing_the_same_history_twice_is_refused():
    setup = team_leaving_another_tool()
    import_tool_history(setup.rotation, export("pagerduty_schedule.ics"), by=setup.boss, now=NOW)
    with pytest.raises(Invalid) as refused:
        import_tool_history(
            setup.rotation, export("pagerduty_schedule.ics"), by=setup.boss, now=NOW
        )
    assert "already has a primary shift at 2026-03-16 09:00 UTC" in str(refused.value)
    assert Shift.objects.count() == 5


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n", "calendar"),
        (b"when,who\n2026-01-01,amara\n", "needs a person column"),
        (b"\xff\xfe\x00garbage", "neither a calendar"),
        (b"", "The file is empty"),
    ],
)
def test_a_bad_file_answers_a_clear_error_and_writes_nothing(data, reason):
    setup = team_leaving_another_tool()
    with pytest.raises(Invalid) as refused:
        import_tool_history(setup.rotation, data, by=setup.boss, now=NOW)
    assert reason in str(refused.value)
    assert not Shift.objects.exists()


def test_an_engineer_cannot_preview_or_import_history():
    setup = team_leaving_another_tool()
    with pytest.raises(NotAllowed):
        preview_tool_history(
            setup.rotation, export("pagerduty_schedule.ics"), by=setup.people[0], now=NOW
        )


def test_the_api_previews_then_imports_with_the_mapping(client):
    setup = team_leaving_another_tool()
    client.force_login(setup.boss)
    url = f"/api/rotations/{setup.rotation.pk}/history-import/"
    upload = {"file": (EXPORTS / "opsgenie_schedule.ics").open("rb")}
    preview = client.post(url + "preview/", upload)
    assert preview.status_code == 200
    body = preview.json()
    assert body["unknown"] == [{"name": "Zoe Contractor", "shifts": 1}]
    assert {"name": "Ben Carter", "person": "Ben Carter", "user": person(setup, "Ben").pk} in (
        body["mapping"]
    )
    refused = client.post(url, {"file": (EXPORTS / "opsgenie_schedule.ics").open("rb")})
    assert refused.status_code == 400
    assert "Zoe Contractor" in refused.json()["detail"]
    done = client.post(
        url,
        {
            "file": (EXPORTS / "opsgenie_schedule.ics").open("rb"),
            "mapping": '{"Zoe Contractor": null}',
        },
    )
    assert done.status_code == 201, done.content
    assert done.json() == {"imported": 5}


def test_the_page_previews_unknown_names_then_imports_with_the_managers_choice(client):
    setup = team_leaving_another_tool()
    client.force_login(setup.boss)
    url = f"/rotations/{setup.rotation.pk}/import-from-tool/"
    with (EXPORTS / "opsgenie_schedule.ics").open("rb") as upload:
        preview = client.post(url, {"action": "preview", "file": upload, "tool": "Opsgenie"})
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "Preview: nothing is written yet" in text
    assert "Zoe Contractor" in text and "unknown" in text
    assert not Shift.objects.exists()
    key = preview.context["key"]
    done = client.post(
        url,
        {
            "action": "import",
            "key": key,
            "role": "primary",
            "tool": "Opsgenie",
            "map:Zoe Contractor": str(person(setup, "Dev").pk),
        },
    )
    assert done.status_code == 302
    assert Shift.objects.filter(roster__rotation=setup.rotation).count() == 6


def test_the_command_previews_by_default_and_imports_with_confirm():
    setup = team_leaving_another_tool()
    path = str(EXPORTS / "opsgenie_schedule.ics")
    out = io.StringIO()
    call_command("import_tool_history", setup.rotation.pk, path, stdout=out)
    assert '"name": "Zoe Contractor"' in out.getvalue()
    assert not Shift.objects.exists()
    with pytest.raises(CommandError, match="map or skip these names first: Zoe Contractor"):
        call_command("import_tool_history", setup.rotation.pk, path, "--confirm")
    call_command(
        "import_tool_history", setup.rotation.pk, path, "--confirm", "--map", "Zoe Contractor=dev",
        stdout=io.StringIO(),
    )  # fmt: skip
    assert Shift.objects.filter(assignee=person(setup, "Dev")).count() == 1


def test_a_schedule_feed_address_is_fetched_and_imported(client, settings):
    settings.ONEHAND_ICS_ALLOW_PRIVATE = True  # the feed is served on loopback here
    setup = team_leaving_another_tool()
    body = export("pagerduty_schedule.ics")

    class Feed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client.force_login(setup.boss)
        feed = f"http://127.0.0.1:{server.server_address[1]}/private/schedule.ics"
        done = client.post(
            f"/api/rotations/{setup.rotation.pk}/history-import/",
            {"url": feed, "tool": "PagerDuty"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.status_code == 201, done.content
    # Everything that has ended by now (the feed's November week too, once it is over).
    expected = 5 + (timezone.now() >= datetime(2026, 11, 23, 9, tzinfo=UTC))
    assert done.json() == {"imported": expected}
