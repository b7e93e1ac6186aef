"""Team chat: Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat).

One service for every caller (page, API, admin, beat task): managers add and remove a team's
chat hooks (`add_chat_hook`, `remove_chat_hook`); the places that already write e-mail
notices (handoffs, a published roster, swap offers, the at-risk watch) call `write_chat` in
the same transaction, which writes one outbox row per hook and subject; `send` posts one row.

A message is JSON with ``text`` (the fallback every tool shows in notifications) and
``blocks`` (a Slack section and context; Mattermost and Rocket.Chat read ``text``). Times are
in the rotation's zone, named, since a channel has many readers. The address is a secret: it
is stored encrypted and shown back as a hint only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from onehand import fetch
from onehand.errors import Invalid
from onehand.links import absolute
from onehand.people import display_name
from planning import risk
from rotation.models import Roster, Shift, SlotRole, SwapOffer, SwapRequest, Team
from rotation.permissions import Actor, acting_user, require_manager

from . import dispatch, entries, mail
from .crypto import decrypt, encrypt
from .errors import Permanent, Transient, Unconfirmed
from .models import Channel, ChatHook, Delivery, Kind

Status = Delivery.Status

MAX_URL_CHARS = 500
MAX_HOOKS_PER_TEAM = 10
# Slack cuts a section's text at 3,000 characters; stay well below.
MAX_TEXT_CHARS = 2_500
# Chat servers can be slow to answer a post they have taken; wait this long for each step.
POST_TIMEOUT = 10.0


@dataclass(frozen=True)
class ChatNotice:
    """One message to every chat hook of a team: about a shift (handoff, roster, at risk)
    or a swap request. ``user_id`` is the person it is about (shown in the failed list)."""

    team_id: int
    kind: str
    shift_id: int
    user_id: int
    swap_request_id: int | None = None


# --------------------------------------------------------------------------- configuration


def _allow_private() -> bool:
    # The same switch as calendar (ICS) URL imports: loopback only in tests and development.
    return bool(getattr(settings, "ONEHAND_ICS_ALLOW_PRIVATE", False))


def _schemes() -> tuple[str, ...]:
    return ("https", "http") if _allow_private() else ("https",)


def url_hint(url: str) -> str:
    target = url.strip()
    scheme, _, rest = target.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/…{target[-4:]}"


@sensitive_variables("url")
def check_chat_url(url: str) -> str:
    """The address, stripped, or Invalid with the reason."""
    url = (url or "").strip()
    if not url:
        raise Invalid("Paste the incoming webhook address from your chat tool.", field="url")
    if len(url) > MAX_URL_CHARS:
        raise Invalid(f"The address is longer than {MAX_URL_CHARS} characters.", field="url")
    if any(not c.isprintable() or c.isspace() for c in url):
        raise Invalid("The address may not hold spaces or control characters.", field="url")
    if not url.lower().startswith("https://") and not (
        _allow_private() and url.lower().startswith("http://")
    ):
        raise Invalid(
            "The webhook address must start with https:// (chat tools issue https addresses).",
            field="url",
        )
    try:
        fetch.check_url(url, allow_private=_allow_private(), schemes=_schemes())
    except fetch.FetchError as error:
        raise Invalid(f"The webhook address cannot be used: {error}", field="url") from None
    return url


@sensitive_variables("url")
@transaction.atomic
def add_chat_hook(team: Team, *, url: str, label: str = "", by: Actor) -> ChatHook:
    """A manager connects the team's chat; the address is checked, then stored encrypted."""
    require_manager(by, team.pk, "Only the team's managers can connect a chat.")
    label = (label or "").strip()
    if any(not c.isprintable() for c in label):
        raise Invalid("The label may hold only printable characters.", field="label")
    if len(label) > 100:
        raise Invalid("The label is longer than 100 characters.", field="label")
    url = check_chat_url(url)
    if ChatHook.objects.filter(team=team, enabled=True).count() >= MAX_HOOKS_PER_TEAM:
        raise Invalid(f"A team may have at most {MAX_HOOKS_PER_TEAM} chat hooks.", field="url")
    return ChatHook.objects.create(
        team=team,
        label=label,
        url_encrypted=encrypt(url),
        url_hint=url_hint(url),
        created_by=acting_user(by),
    )


@transaction.atomic
def remove_chat_hook(hook: ChatHook, *, by: Actor) -> None:
    """Stops the hook: nothing more is posted; its pending messages are dropped."""
    require_manager(by, hook.team_id, "Only the team's managers can disconnect a chat.")
    ChatHook.objects.filter(pk=hook.pk).update(enabled=False)
    Delivery.objects.filter(chat_hook_id=hook.pk, status=Status.PENDING).update(
        status=Status.SKIPPED, last_error="chat hook removed"
    )


# --------------------------------------------------------------------------- outbox


def write_chat(notices: Iterable[ChatNotice], *, now: datetime | None = None) -> int:
    """One pending row per enabled hook of the notice's team, queued after commit; a notice
    already in the outbox for that hook is left alone (exactly once). Returns rows offered."""
    now = now or timezone.now()
    notices = list(dict.fromkeys(notices))
    if not notices:
        return 0
    hooks: dict[int, list[int]] = {}
    for team_id, hook_id in ChatHook.objects.filter(
        team_id__in={n.team_id for n in notices}, enabled=True
    ).values_list("team_id", "pk"):
        hooks.setdefault(team_id, []).append(hook_id)
    rows = [
        Delivery(
            user_id=n.user_id,
            shift_id=n.shift_id,
            channel=Channel.CHAT,
            kind=n.kind,
            chat_hook_id=hook_id,
            swap_request_id=n.swap_request_id,
            action=Delivery.Action.NOTE,
            next_attempt_at=now,
        )
        for n in notices
        for hook_id in hooks.get(n.team_id, ())
    ]
    if not rows:
        return 0
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    scope = Q()
    for n in notices:
        scope |= Q(shift_id=n.shift_id, kind=n.kind, swap_request_id=n.swap_request_id)
    dispatch.enqueue_on_commit(Q(scope, channel=Channel.CHAT))
    return len(rows)


def roster_notice(roster: Roster) -> ChatNotice | None:
    first = Shift.objects.filter(roster=roster).order_by("start", "role", "pk").only("pk").first()
    user_id = roster.published_by_id or roster.created_by_id
    if first is None or user_id is None:
        return None
    return ChatNotice(roster.rotation.team_id, Kind.CHAT_ROSTER, first.pk, user_id)


# --------------------------------------------------------------------------- messages


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    return f"<{url}|{_escape(label)}>"


def payload(text: str, *, detail: str = "", link: tuple[str, str] | None = None) -> dict:
    """The message: ``text`` for every tool, ``blocks`` for Slack's layout."""
    text = text[:MAX_TEXT_CHARS]
    plain = text + (f"\n{detail}" if detail else "") + (f"\n{link[1]}: {link[0]}" if link else "")
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": _escape(text)}}]
    context = [part for part in (_escape(detail[:MAX_TEXT_CHARS]) if detail else "",) if part]
    if link:
        context.append(_link(*link))
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": c} for c in context]}
        )
    return {"text": plain, "blocks": blocks}


def _handoff(delivery: Delivery, now: datetime) -> dict | None:
    shift = (
        Shift.objects.filter(
            pk=delivery.shift_id,
            assignee_id=delivery.user_id,
            roster__status=Roster.Status.PUBLISHED,
        )
        .select_related("roster__rotation", "assignee")
        .first()
    )
    if shift is None:
        return None
    rotation = shift.roster.rotation
    zone = rotation.time_zone
    partner = (
        Shift.objects.filter(
            roster__rotation_id=rotation.pk,
            roster__status=Roster.Status.PUBLISHED,
            # Whoever is secondary when this slot starts (a piece after partial cover too).
            start__lte=shift.start,
            end__gt=shift.start,
            role=SlotRole.SECONDARY,
            assignee__isnull=False,
        )
        .select_related("assignee")
        .first()
    )
    text = (
        f"{rotation.name}: {display_name(shift.assignee)} is {shift.role} until "
        f"{mail.local(shift.end, zone)}"
    )
    if partner is not None and partner.pk != shift.pk:
        text += f", {display_name(partner.assignee)} {partner.role}"
    link = (absolute(reverse("roster", args=[shift.roster_id])), "Roster")
    return payload(text + ".", link=link)


def _roster(delivery: Delivery, now: datetime) -> dict | None:
    shift = Shift.objects.select_related("roster__rotation").get(pk=delivery.shift_id)
    roster = shift.roster
    if roster.status != Roster.Status.PUBLISHED:
        return None
    rotation = roster.rotation
    zone = rotation.time_zone
    slots = list(
        Shift.objects.filter(roster=roster, role=SlotRole.PRIMARY)
        .select_related("assignee")
        .order_by("start")[:8]
    )
    total = Shift.objects.filter(roster=roster).count()
    text = (
        f"{rotation.name}: the roster from {roster.period_start:%a %d %b %Y} to "
        f"{roster.period_end:%a %d %b %Y} is published ({total} slots)."
    )
    lines = [
        f"{mail.local(s.start, zone)}: {display_name(s.assignee) if s.assignee_id else 'open'}"
        for s in slots
    ]
    detail = "Primary: " + "; ".join(lines) if lines else ""
    return payload(
        text, detail=detail, link=(absolute(reverse("roster", args=[roster.pk])), "Roster")
    )


def _swap(delivery: Delivery, now: datetime) -> dict | None:
    request = (
        SwapRequest.objects.filter(pk=delivery.swap_request_id)
        .select_related("shift__roster__rotation", "requester")
        .first()
    )
    if request is None or request.status != SwapRequest.Status.OPEN or request.shift.start <= now:
        return None
    shift = request.shift
    rotation = shift.roster.rotation
    zone = rotation.time_zone
    asked = request.offers.filter(status=SwapOffer.Status.OFFERED).select_related("candidate")
    names = ", ".join(display_name(o.candidate) for o in asked[:10])
    text = (
        f"{rotation.name}: {display_name(request.requester)} needs cover for {shift.role}, "
        f"{entries.span(shift.start, shift.end, zone)}."
    )
    detail = f"Asked first: {names}. Each has a link to accept in their e-mail." if names else ""
    return payload(text, detail=detail, link=(absolute(reverse("home")), "Open swaps and offers"))


def _at_risk(delivery: Delivery, now: datetime) -> dict | None:
    shift = Shift.objects.select_related("roster__rotation", "assignee").get(pk=delivery.shift_id)
    rotation = shift.roster.rotation
    zone = rotation.time_zone
    found = [
        r for r in risk.at_risk_shifts([rotation.pk], zone=zone, now=now) if r.shift.pk == shift.pk
    ]
    if not found:
        return None
    holder = display_name(shift.assignee) if shift.assignee_id else "nobody"
    text = (
        f"At risk: {rotation.name} {shift.role}, {entries.span(shift.start, shift.end, zone)}, "
        f"held by {holder}, may go uncovered."
    )
    detail = "; ".join(found[0].reasons)
    return payload(
        text, detail=detail, link=(absolute(reverse("roster", args=[shift.roster_id])), "Roster")
    )


RENDER = {
    Kind.CHAT_HANDOFF: _handoff,
    Kind.CHAT_ROSTER: _roster,
    Kind.CHAT_SWAP: _swap,
    Kind.CHAT_AT_RISK: _at_risk,
}


def post(hook: ChatHook, body: dict) -> None:
    """POST through the hardened client: 5xx, 429 and trouble before the message went out are
    Transient (retried with backoff), other refusals Permanent (failed list); no answer after
    it went out is Unconfirmed (recorded as sent with a note, never posted again)."""
    try:
        url = decrypt(hook.url_encrypted)
    except Exception as error:  # noqa: BLE001 - keys changed: nothing to retry
        raise Permanent("the chat hook's address cannot be decrypted; add it again") from error
    try:
        fetch.post(
            url,
            body=json.dumps(body).encode(),
            content_type="application/json",
            timeout=POST_TIMEOUT,
            allow_private=_allow_private(),
            user_agent="Onehand chat",
            schemes=_schemes(),
        )
    except fetch.HTTPStatusError as error:
        reason = f"chat server {hook.url_hint} answered {error.code}"
        if error.status >= 500 or error.status == 429:
            raise Transient(reason) from None
        raise Permanent(reason) from None
    except fetch.NoAnswer:
        raise Unconfirmed(
            f"sent to chat hook {hook.url_hint}, but it did not confirm in time "
            "(check the channel; not posted again, to avoid a duplicate)"
        ) from None
    except (fetch.BadAddress, fetch.PrivateAddress) as error:
        raise Permanent(f"chat hook {hook.url_hint}: {error}") from None
    except fetch.FetchError as error:
        raise Transient(f"chat hook {hook.url_hint}: {error}") from None


def send(delivery: Delivery, now: datetime) -> str:
    """Render from the state now (moot -> SKIPPED) and post once."""
    hook = ChatHook.objects.filter(pk=delivery.chat_hook_id, enabled=True).first()
    render = RENDER.get(delivery.kind)
    if hook is None or render is None:
        return Status.SKIPPED
    body = render(delivery, now)
    if body is None:
        return Status.SKIPPED
    post(hook, body)
    return Status.SENT
