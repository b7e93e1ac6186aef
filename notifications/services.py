"""Writes for feeds and calendar connections: feed tokens, CalDAV connect and disconnect.

The outbox is in `outbox.py` (who gets which notice), sending in `dispatch.py` (claiming,
queueing, retries, the sweeper) and `sending.py` (per channel and kind).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from rotation import selectors as rotation_selectors
from rotation.models import Roster, Rotation, Shift, new_token
from rotation.permissions import Actor, require_manager

from . import dispatch, outbox
from .crypto import encrypt
from .models import CalendarConnection, Channel, Delivery, RotationFeed
from .selectors import group_key, group_sequence, slot_groups


@transaction.atomic
def rotate_personal_feed(*, by: Actor) -> str:
    user = by
    person = rotation_selectors.person_of(user=user)
    person.feed_token = new_token()
    person.save(update_fields=["feed_token"])
    return person.feed_token


@transaction.atomic
def rotate_rotation_feed(rotation: Rotation, *, by: Actor) -> str:
    """A new secret address for a team feed (the old one stops working); managers only."""
    require_manager(
        by, rotation.team_id, "Only the team's managers can change a team feed's address."
    )
    feed, _ = RotationFeed.objects.select_for_update().get_or_create(rotation=rotation)
    feed.token = new_token()
    feed.save(update_fields=["token"])
    return feed.token


@sensitive_variables("password")
@transaction.atomic
def connect_calendar(*, url: str, username: str, password: str, by: Actor) -> CalendarConnection:
    """Store (or replace) the person's CalDAV calendar and push their upcoming shifts to it."""
    user = by
    CalendarConnection.objects.filter(user=user).delete()
    # What was pushed to a previous calendar says nothing about this one.
    Delivery.objects.filter(user=user, channel=Channel.CALDAV).delete()
    connection = CalendarConnection.objects.create(
        user=user, url=url, username=username, password_encrypted=encrypt(password)
    )
    now = timezone.now()
    upcoming = list(
        Shift.objects.filter(
            assignee=user, roster__status=Roster.Status.PUBLISHED, end__gt=now
        ).only("pk", "roster_id", "start", "split_from_id")
    )
    groups = slot_groups(upcoming)
    outbox.write_entries(
        [
            outbox.Planned(
                user.pk, s.pk, Delivery.Action.REQUEST, group_sequence(groups[group_key(s)])
            )
            for s in upcoming
        ],
        now,
        channels=(Channel.CALDAV,),
    )
    dispatch.enqueue_on_commit(Q(user=user, channel=Channel.CALDAV))
    return connection


@transaction.atomic
def disconnect_calendar(*, by: Actor) -> None:
    user = by
    CalendarConnection.objects.filter(user=user).delete()
    Delivery.objects.filter(user=user, channel=Channel.CALDAV).delete()
