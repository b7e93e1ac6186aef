"""The at-risk watch's e-mail: managers hear once per shift about shifts at risk within the
horizon (planning.risk says which and why)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from planning import risk
from rotation.models import Rotation
from rotation.permissions import Actor

from . import chat, outbox
from .models import Kind


@transaction.atomic
def alert_at_risk(*, by: Actor, now: datetime | None = None) -> int:
    """Write one AT_RISK notice per manager and shift at risk (never twice for the same pair:
    the outbox identity is (manager, shift, kind)). Returns rows offered."""
    now = now or timezone.now()
    rotation_ids = list(Rotation.objects.values_list("pk", flat=True))
    notices = []
    chats = []
    managers: dict[int, list[int]] = {}
    for item in risk.at_risk_shifts(rotation_ids, now=now):
        rotation_id = item.shift.roster.rotation_id
        if rotation_id not in managers:
            managers[rotation_id] = risk.managers_of(rotation_id)
        notices += [outbox.Notice(m, item.shift.pk, Kind.AT_RISK) for m in managers[rotation_id]]
        about = item.shift.assignee_id or (managers[rotation_id] or [None])[0]
        if about is not None:
            team_id = item.shift.roster.rotation.team_id
            chats.append(chat.ChatNotice(team_id, Kind.CHAT_AT_RISK, item.shift.pk, about))
    return outbox.write_notices(notices, now=now) + chat.write_chat(chats, now=now)
