"""Migration notifications.0004: old outbox rows (channel = medium + notice, sequence = a
SEQUENCE, an offer id or a request id) become rows whose fields mean one thing."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

OLD = [("notifications", "0002_swap_channels"), ("rotation", "0005_follow_the_sun")]
NEW = [("notifications", "0005_delivery_identity_per_kind")]


def test_old_swap_and_note_rows_move_to_their_own_fields():
    executor = MigrationExecutor(connection)
    executor.migrate(OLD)
    apps = executor.loader.project_state(OLD).apps
    User = apps.get_model("auth", "User")
    Team = apps.get_model("rotation", "Team")
    Rotation = apps.get_model("rotation", "Rotation")
    Roster = apps.get_model("rotation", "Roster")
    Shift = apps.get_model("rotation", "Shift")
    SwapRequest = apps.get_model("rotation", "SwapRequest")
    SwapOffer = apps.get_model("rotation", "SwapOffer")
    Delivery = apps.get_model("notifications", "Delivery")
    at = datetime(2031, 1, 5, 9, tzinfo=UTC)
    amara = User.objects.create(username="amara-m", email="amara@example.com")
    ben = User.objects.create(username="ben-m", email="ben@example.com")
    team = Team.objects.create(name="Migr", slug="migr")
    rotation = Rotation.objects.create(team=team, name="R")
    roster = Roster.objects.create(
        rotation=rotation, period_start=date(2031, 1, 1), period_end=date(2031, 2, 1)
    )
    shift = Shift.objects.create(roster=roster, start=at, end=at.replace(day=6), assignee=amara)
    request = SwapRequest.objects.create(shift=shift, requester=amara, deadline=at)
    offer = SwapOffer.objects.create(request=request, candidate=ben, rank=1)

    def old(user, channel, sequence):
        Delivery.objects.create(
            user=user,
            shift=shift,
            channel=channel,
            sequence=sequence,
            action="note",
            next_attempt_at=at,
        )

    old(amara, "email", 4)
    old(amara, "reminder", 0)
    old(ben, "swap_offer", offer.pk)
    old(ben, "swap_manager", request.pk)
    old(amara, "swap_result", request.pk)

    executor = MigrationExecutor(connection)
    executor.migrate(NEW)
    apps = executor.loader.project_state(NEW).apps
    rows = apps.get_model("notifications", "Delivery").objects.order_by("pk")
    got = [
        (r.user.username, r.channel, r.kind, r.sequence, r.swap_request_id, r.swap_offer_id)
        for r in rows
    ]
    assert got == [
        ("amara-m", "email", "entry", 4, None, None),
        ("amara-m", "email", "reminder", None, None, None),
        ("ben-m", "email", "swap_offer", None, request.pk, offer.pk),
        ("ben-m", "email", "swap_approval", None, request.pk, None),
        ("amara-m", "email", "swap_done", None, request.pk, None),
    ]
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
