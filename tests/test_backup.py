"""Backup and restore of a team: export, wipe, import, export again gives the same document."""

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from availability import services as availability
from availability.models import AvailabilityEntry, CalendarSource
from notifications.models import CalendarConnection
from planning import services as planning_services
from planning import swaps
from planning.pay import set_pay_rates
from rotation import backup, services
from rotation.models import (
    CoverageWindow,
    HandoverNote,
    Membership,
    Person,
    Roster,
    Rotation,
    Shift,
    SwapRequest,
    Team,
)
from rotation.permissions import SYSTEM
from tests.factories import (
    DutyRequirementFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
    engineer,
    join_rotation,
    manager,
    verified,
)

pytestmark = pytest.mark.django_db
User = get_user_model()
NOW = "2026-11-25 12:00Z"
DECEMBER = (date(2026, 12, 1), date(2027, 1, 1))
SECRET_URL = "https://calendar.example.com/private-4f9a1c/basic.ics"
CALDAV_SECRET = "gAAAAA-caldav-ciphertext-never-exported"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def build_team() -> dict:
    """A team using every part of the app: two rotations, history, swaps, availability."""
    team = TeamFactory(name="Payments", slug="payments")
    boss = manager(team, username="maya", first_name="Maya", last_name="Patel")
    people = [
        engineer(team, username=f"eng{i}", first_name=f"Eng{i}", time_zone=zone)
        for i, zone in enumerate(["Europe/London", "America/New_York", "Asia/Kolkata"] * 2)
    ]
    outside_mentor = UserFactory(username="mentor-elsewhere", first_name="Olu")
    for i, user in enumerate(people):
        Person.objects.filter(user=user).update(
            phone=f"+44 20 7946 01{i:02d}",
            country=["GB", "US", "IN"][i % 3],
            mentor=outside_mentor if i == 0 else people[(i + 1) % len(people)],
            work_start=time(8),
            work_end=time(18),
            reminder_hours=12,
        )
    Membership.objects.filter(user=people[5]).update(fte="0.50")

    api = RotationFactory(
        team=team,
        name="Payments API",
        lead=boss,
        mentor=people[1],
        runbook_url="https://runbooks.example.com/api",
        swap_deadline_hours=1,
        no_back_to_back=False,
    )
    join_rotation(api, *people)
    sun = RotationFactory(
        team=team,
        name="Follow the sun",
        pattern=Rotation.Pattern.FOLLOW_THE_SUN,
        has_secondary=False,
        lead=boss,
    )
    for label, zone, start, end in (
        ("APAC", "Asia/Kolkata", time(9), time(17)),
        ("EMEA", "Europe/London", time(9), time(17)),
        ("AMER", "America/New_York", time(9), time(17)),
    ):
        CoverageWindow.objects.create(
            rotation=sun, label=label, time_zone=zone, start=start, end=end
        )
    join_rotation(sun, *people[:3])
    services.create_roster(sun, date(2026, 12, 1), date(2026, 12, 8), by=boss)

    # Availability: requirements, qualifications, entries, an upload and a secret calendar URL.
    training = DutyRequirementFactory(
        rotation=api,
        name="Incident training",
        valid_days=365,
        gates_primary=False,
        gates_shadow=True,
    )
    DutyRequirementFactory(
        rotation=api,
        name="Shadowing",
        kind="shadow_shifts",
        shadow_shifts_needed=2,
        gates_primary=False,
        gates_shadow=True,
    )
    for user in people[:4]:
        verified(user, training, obtained_on=date(2026, 1, 10), by=boss)
    availability.claim_qualification(
        training, obtained_on=date(2026, 11, 1), evidence="Certificate #42", by=people[4]
    )
    availability.mark(
        utc(2026, 12, 10), utc(2026, 12, 13), "unavailable", reason="Wedding", by=people[2]
    )
    availability.mark(utc(2026, 12, 19), utc(2026, 12, 21), "preferred", by=people[3])
    upload = CalendarSource.objects.create(
        user=people[1], name="work.ics", kind="upload", status="ok", imported_count=1
    )
    AvailabilityEntry.objects.create(
        user=people[1],
        start=utc(2026, 12, 3, 9),
        end=utc(2026, 12, 3, 11),
        source="calendar",
        calendar=upload,
        reason="Busy (calendar)",
    )
    secret = CalendarSource.objects.create(user=people[4], name="Home", kind="url", url=SECRET_URL)
    AvailabilityEntry.objects.create(
        user=people[4],
        start=utc(2026, 12, 5),
        end=utc(2026, 12, 6),
        source="calendar",
        calendar=secret,
        reason="Busy (calendar)",
    )
    availability.set_allocation(
        by=boss,
        user=people[0],
        team=team,
        period_start=DECEMBER[0],
        period_end=DECEMBER[1],
        percent=50,
        project="Ledger",
    )
    availability.set_team_settings(team, by=boss, engineers_set_allocation=True)
    set_pay_rates(
        team=team,
        by=boss,
        currency="EUR",
        weekday_hour=Decimal("2.50"),
        weekend_hour=Decimal("4"),
        holiday_hour=Decimal("6"),
        per_incident=Decimal("25"),
    )
    availability.lock_availability(team, *DECEMBER, by=boss, note="December is being planned")

    # Rosters: a published draft, superseded by a second one, an edit, a swap and a handover.
    first = planning_services.draft_roster(api, *DECEMBER, by=boss)
    services.publish_roster(first, by=boss)
    second = planning_services.draft_roster(api, *DECEMBER, by=boss)
    services.publish_roster(second, by=boss)
    slot = second.shifts.filter(role="secondary").order_by("start")[3]
    replacement = next(
        u
        for u in people
        if not second.shifts.filter(start=slot.start, assignee=u).exists()
        and u.pk != slot.assignee_id
    )
    planning_services.assign_slot(
        slot, replacement, by=boss, override=True, note="Covering for a trip"
    )
    wanted = second.shifts.filter(role="primary", assignee__isnull=False).order_by("start")[1]
    request = swaps.request_swap(wanted, reason="Conference", by=wanted.assignee)
    offer = request.offers.order_by("rank").first()
    swaps.accept_offer(offer, by=offer.candidate)
    HandoverNote.objects.create(
        shift=second.shifts.filter(role="primary").order_by("start")[0],
        author=people[0],
        open_incidents="INC-7 payouts slow",
        notes="Watch the queue",
    )

    # Secrets that must stay behind, and a second team that must not come along.
    Token.objects.create(user=boss)
    CalendarConnection.objects.create(
        user=people[0],
        url="https://dav.example.com/cal/",
        username="eng0",
        password_encrypted=CALDAV_SECRET,
    )
    other = TeamFactory(name="Search", slug="search")
    engineer(other, username="stranger")
    return {"team": team, "boss": boss, "people": people, "api": api, "roster": second}


def comparable(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "exported_at"}


def wipe(data: dict) -> None:
    """Delete the team and its people, as if this were an empty instance."""
    Team.objects.get(slug=data["team"]["slug"]).delete()
    User.objects.filter(username__in=[u["username"] for u in data["users"]]).delete()


@time_machine.travel(NOW, tick=False)
def test_a_team_survives_export_wipe_and_import_unchanged():
    built = build_team()
    old_tokens = set(Person.objects.values_list("feed_token", flat=True))
    first = backup.export_team(built["team"])
    text = json.dumps(first)
    assert first["format"] == "onehand-team" and first["version"] == 1
    # Every kind of row is exercised, and the other team stays behind.
    assert [t.key for t in backup.TABLES if not first["tables"][t.key]] == []
    usernames = {u["username"] for u in first["users"]}
    assert usernames == {"maya", "mentor-elsewhere", *(f"eng{i}" for i in range(6))}
    # No secrets: feed tokens, API tokens, calendar addresses, CalDAV, password hashes.
    for secret in [
        *old_tokens,
        Token.objects.get().key,
        SECRET_URL,
        "private-4f9a1c",
        CALDAV_SECRET,
    ]:
        assert secret not in text
    hashes = User.objects.filter(username__in=usernames).values_list("password", flat=True)
    assert all(h not in text for h in hashes) and "password" not in first["users"][0]
    assert [s["name"] for s in first["tables"]["calendar_sources"]] == ["work.ics"]
    before_counts = {t.key: t.model_class.objects.count() for t in backup.TABLES}

    wipe(first)
    assert not Shift.objects.filter(roster__rotation__team__slug="payments").exists()
    team = backup.import_team(json.loads(text), by=SYSTEM)

    second = backup.export_team(team)
    assert comparable(second) == comparable(first)
    # The secret calendar and its entry were not restored; everything else was.
    after_counts = {t.key: t.model_class.objects.count() for t in backup.TABLES}
    assert after_counts["calendar_sources"] == before_counts["calendar_sources"] - 1
    assert after_counts["availability_entries"] == before_counts["availability_entries"] - 1
    assert after_counts["shifts"] == before_counts["shifts"]

    # New ids, and the ids inside JSON history point at the new rows.
    maya = User.objects.get(username="maya")
    assert not maya.has_usable_password()
    assert maya.person.feed_token not in old_tokens
    assert team.memberships.get(user=maya).role == "manager"
    roster = Roster.objects.get(
        rotation__team=team, status="published", rotation__name="Payments API"
    )
    members = set(roster.rotation.rotation_members.values_list("user_id", flat=True))
    assert {int(pid) for pid in roster.summary["people"]} == members
    swapped = roster.shifts.get(reason__has_key="swap")
    assert swapped.reason["swap"] == SwapRequest.objects.get(shift=swapped).pk
    swap_audit = roster.audit_entries.filter(action="swap", after__has_key="offer").get()
    assert (
        swap_audit.after["shift"] == swapped.pk
        and swap_audit.after["assignee"] == swapped.assignee_id
    )
    assert Person.objects.get(user__username="eng0").mentor.username == "mentor-elsewhere"
    # History keeps its times (auto_now_add fields are restored, not stamped with now).
    publish = roster.audit_entries.get(action="publish")
    assert publish.at == datetime.fromisoformat(
        next(
            a["at"]
            for a in first["tables"]["audit_entries"]
            if a["action"] == "publish" and a["roster"] == 2
        )
    )


@time_machine.travel(NOW, tick=False)
def test_the_commands_round_trip_through_a_file_with_password_hashes(tmp_path, capsys):
    build_team()
    path = tmp_path / "payments.json"
    call_command("export_team", "payments", "--output", str(path), "--with-password-hashes")
    assert path.stat().st_mode & 0o077 == 0  # names, phones and hashes: owner only
    data = json.loads(path.read_text())
    assert data["users"][0]["password"] == User.objects.get(username="maya").password
    wipe(data)
    call_command("import_team", str(path))
    out = capsys.readouterr().out
    assert "Imported team 'Payments' (payments)" in out
    assert User.objects.get(username="eng3").check_password("pw-for-tests-123")
    assert comparable(backup.export_team(Team.objects.get(slug="payments"))) == comparable(
        {
            **data,
            "password_hashes": False,
            "users": [{k: v for k, v in u.items() if k != "password"} for u in data["users"]],
        }
    )


def _snapshot() -> dict:
    models = [t.model_class for t in backup.TABLES] + [User, Team]
    return {m._meta.label: m.objects.count() for m in models}


def _exported(tmp_path):
    build_team()
    path = tmp_path / "payments.json"
    call_command("export_team", "payments", "--output", str(path))
    return path, json.loads(path.read_text())


FOREIGN = [
    ("this is not json", "is not JSON"),
    ('["a", "list"]', "not an Onehand team export"),
    ('{"format": "onehand-something-else", "version": 1}', "not an Onehand team export"),
    ('[{"model": "auth.user", "pk": 1, "fields": {}}]', "not an Onehand team export"),
    (
        '{"format": "onehand-team", "version": 7, "team": {}, "users": [], "tables": {}}',
        "version 7",
    ),
    (
        '{"format": "onehand-team", "version": 1, "team": {}, "users": {}, "tables": {}}',
        "no valid 'users'",
    ),
]


@time_machine.travel(NOW, tick=False)
def test_a_foreign_or_malformed_file_is_refused_clearly(tmp_path):
    build_team()
    before = _snapshot()
    path = tmp_path / "file.json"
    for content, message in FOREIGN:
        path.write_text(content)
        with pytest.raises(CommandError, match=message):
            call_command("import_team", str(path))
        assert _snapshot() == before, content
    with pytest.raises(CommandError, match="Can't read"):
        call_command("import_team", str(tmp_path / "missing.json"))


def _break_shift_roster(data):
    data["tables"]["shifts"][-1]["roster"] = 999


def _break_time_zone(data):
    data["tables"]["people"][0]["time_zone"] = "Mars/Olympus_Mons"


def _break_choice(data):
    data["tables"]["memberships"][0]["role"] = "overlord"


def _break_unknown_field(data):
    data["tables"]["rotations"][0]["pager_duty_key"] = "x"


def _break_constraint(data):
    # Two published rosters for one period: only the database constraint knows.
    for roster in data["tables"]["rosters"]:
        roster["status"] = "published"


def _break_unknown_table(data):
    data["tables"]["secrets"] = []


BREAKAGES = [
    (_break_shift_roster, "shifts row .*: roster refers to 999"),
    (_break_time_zone, "people row 1: time_zone"),
    (_break_choice, "memberships row 1: role 'overlord'"),
    (_break_unknown_field, "rotations row 1: unknown fields pager_duty_key"),
    (_break_constraint, "The database refused the data"),
    (_break_unknown_table, "Unknown tables in the export: secrets"),
]


@time_machine.travel(NOW, tick=False)
def test_a_damaged_export_changes_nothing(tmp_path):
    path, data = _exported(tmp_path)
    wipe(data)
    before = _snapshot()
    for breakage, message in BREAKAGES:
        damaged = json.loads(json.dumps(data))
        breakage(damaged)
        path.write_text(json.dumps(damaged))
        with pytest.raises(CommandError, match=message):
            call_command("import_team", str(path))
        assert _snapshot() == before, breakage.__name__
    # The undamaged file still imports afterwards.
    path.write_text(json.dumps(data))
    call_command("import_team", str(path))
    assert Team.objects.filter(slug="payments").exists()


@time_machine.travel(NOW, tick=False)
def test_an_existing_team_or_user_is_a_conflict(tmp_path):
    path, data = _exported(tmp_path)
    before = _snapshot()
    with pytest.raises(CommandError, match="slug 'payments' exists already"):
        call_command("import_team", str(path))
    Team.objects.get(slug="payments").delete()
    before = _snapshot()
    with pytest.raises(CommandError, match=r"These users exist already: .*eng0"):
        call_command("import_team", str(path))
    assert _snapshot() == before


def test_an_unknown_team_is_a_clear_error():
    with pytest.raises(CommandError, match="No team with the slug 'nope'"):
        call_command("export_team", "nope")


def test_every_model_is_exported_or_deliberately_left_out():
    exported = {t.model for t in backup.TABLES}
    for label in ("rotation", "availability", "notifications"):
        for model in apps.get_app_config(label).get_models():
            name = model._meta.label
            assert name in exported or name in backup.NOT_EXPORTED, (
                f"{name} is neither exported by rotation/backup.py nor listed in NOT_EXPORTED"
            )


@time_machine.travel(NOW, tick=False)
def test_an_empty_team_round_trips():
    team = TeamFactory(name="New", slug="new")
    manager(team, username="solo")
    data = backup.export_team(team)
    wipe(data)
    restored = backup.import_team(json.loads(json.dumps(data)), by=SYSTEM)
    assert comparable(backup.export_team(restored)) == comparable(data)
    assert Person.objects.filter(user__username="solo").exists()
    assert timedelta(0) <= datetime.now(UTC) - restored.memberships.get().user.date_joined
