"""Outbox rows, feed tokens, removed-assignment records and CalDAV connections.

A Delivery is written in the same transaction as the change it announces (publish, edit,
swap, or a reminder falling due); Celery only nudges rows along, the row is the truth.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from rotation.models import Roster, Rotation, Shift, SwapOffer, SwapRequest, Team, new_token


class Channel(models.TextChoices):
    """How a notice travels: the medium only."""

    EMAIL = "email", "Email"
    CALDAV = "caldav", "CalDAV calendar"
    CHAT = "chat", "Team chat (incoming webhook)"


class Kind(models.TextChoices):
    """What a notice says: each kind has its own identity in the outbox."""

    # The calendar entry itself (iCalendar REQUEST/CANCEL), one row per change (`sequence`).
    ENTRY = "entry", "Calendar entry"
    # One per person and shift.
    REMINDER = "reminder", "Reminder"
    HANDOFF_IN = "handoff_in", "Handoff note (incoming)"
    HANDOFF_OUT = "handoff_out", "Handoff note (outgoing)"
    AT_RISK = "at_risk", "Shift at risk (managers)"
    # One per person and swap offer (`swap_offer`).
    SWAP_OFFER = "swap_offer", "Swap offer"
    SWAP_OFFER_CLOSED = "swap_offer_closed", "Swap offer withdrawn"
    # One per person and swap request (`swap_request`).
    SWAP_NO_TAKER = "swap_no_taker", "Swap has no taker (managers)"
    SWAP_APPROVAL = "swap_approval", "Swap awaits approval (managers)"
    SWAP_UNCOVERED = "swap_uncovered", "Swap not covered before the shift (managers)"
    SWAP_DONE = "swap_done", "Swap done (requester)"
    SWAP_WON = "swap_won", "Swap done (new holder)"
    SWAP_PARTNER = "swap_partner", "Swap done (partner on the shift)"
    SWAP_SUMMARY = "swap_summary", "Swap done (managers)"
    SWAP_CANCELLED = "swap_cancelled", "Swap request cancelled (requester)"
    SWAP_REJECTED = "swap_rejected", "Swap rejected by a manager (taker)"
    # Team chat, one message per chat hook and subject (`chat_hook` + shift or swap request).
    CHAT_HANDOFF = "chat_handoff", "Chat: handoff"
    CHAT_ROSTER = "chat_roster", "Chat: roster published"
    CHAT_AT_RISK = "chat_at_risk", "Chat: shift at risk"
    CHAT_SWAP = "chat_swap", "Chat: swap needs a taker"


ENTRY_CHANNELS = (Channel.EMAIL, Channel.CALDAV)
NOTE_KINDS = (Kind.REMINDER, Kind.HANDOFF_IN, Kind.HANDOFF_OUT, Kind.AT_RISK)
OFFER_KINDS = (Kind.SWAP_OFFER, Kind.SWAP_OFFER_CLOSED)
REQUEST_KINDS = (
    Kind.SWAP_NO_TAKER,
    Kind.SWAP_APPROVAL,
    Kind.SWAP_UNCOVERED,
    Kind.SWAP_DONE,
    Kind.SWAP_WON,
    Kind.SWAP_PARTNER,
    Kind.SWAP_SUMMARY,
    Kind.SWAP_CANCELLED,
    Kind.SWAP_REJECTED,
)
SWAP_KINDS = OFFER_KINDS + REQUEST_KINDS
CHAT_SHIFT_KINDS = (Kind.CHAT_HANDOFF, Kind.CHAT_ROSTER, Kind.CHAT_AT_RISK)
CHAT_KINDS = (*CHAT_SHIFT_KINDS, Kind.CHAT_SWAP)


class ChatHook(models.Model):
    """A team's Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).

    The address is the credential: it is stored encrypted (``notifications.crypto``) and
    shown back only as ``url_hint`` (scheme, host and the last four characters)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chat_hooks")
    label = models.CharField(max_length=100, blank=True)
    url_encrypted = models.TextField()
    url_hint = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"chat hook {self.label or self.url_hint} of team {self.team_id}"

    def __repr__(self) -> str:
        return f"<ChatHook {self.pk} team={self.team_id} {self.url_hint}>"


class Delivery(models.Model):
    """One notice (``kind``) to one person about one shift over one channel.

    The notice's identity, which the database keeps unique, depends on its kind:

    - ``entry``: (user, shift, channel, sequence). ``sequence`` is the entry's iCalendar
      SEQUENCE, so every change of the entry is a row of its own. Only entries have one.
    - reminders, handoff notes, at-risk alerts: (user, shift, kind): once per person and shift.
    - swap offers and their withdrawal: (user, swap_offer, kind).
    - every other swap notice: (user, swap_request, kind).
    - chat messages (channel ``chat``): (chat_hook, shift, kind), or (chat_hook,
      swap_request, kind) for a swap; ``user`` is then the person the message is about.

    So the same notice is never written (or sent) twice, and two different notices (an
    approval request and a "no taker yet" for the same swap) never share a key.
    """

    class Action(models.TextChoices):
        REQUEST = "request", "Create or update"
        CANCEL = "cancel", "Cancel"
        NOTE = "note", "Note"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"  # replaced by a newer change, or moot, before it went out

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries"
    )
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ENTRY)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    swap_request = models.ForeignKey(
        SwapRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    swap_offer = models.ForeignKey(
        SwapOffer, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    chat_hook = models.ForeignKey(
        ChatHook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Not claimable before this instant (backoff after a transient failure).
    next_attempt_at = models.DateTimeField()
    # While "sending": the claim holds until then; past it the sweeper sends again.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "shift", "channel", "sequence"],
                condition=Q(kind="entry"),
                name="delivery_entry_once_per_change",
            ),
            models.UniqueConstraint(
                fields=["user", "shift", "kind"],
                condition=Q(kind__in=NOTE_KINDS),
                name="delivery_note_once_per_shift",
            ),
            models.UniqueConstraint(
                fields=["user", "swap_offer", "kind"],
                condition=Q(kind__in=OFFER_KINDS),
                name="delivery_once_per_offer",
            ),
            models.UniqueConstraint(
                fields=["user", "swap_request", "kind"],
                condition=Q(kind__in=REQUEST_KINDS),
                name="delivery_once_per_swap",
            ),
            # Each field means one thing: a sequence only on entries, a swap only on swap
            # notices, an offer only on offer notices.
            models.CheckConstraint(
                condition=Q(kind="entry", sequence__isnull=False)
                | Q(~Q(kind="entry"), sequence__isnull=True),
                name="delivery_sequence_only_on_entries",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OFFER_KINDS, swap_offer__isnull=False)
                | Q(~Q(kind__in=OFFER_KINDS), swap_offer__isnull=True),
                name="delivery_offer_only_on_offer_notices",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=REQUEST_KINDS, swap_request__isnull=False)
                | Q(~Q(kind__in=SWAP_KINDS), ~Q(kind=Kind.CHAT_SWAP), swap_request__isnull=True)
                | Q(kind=Kind.CHAT_SWAP, swap_request__isnull=False)
                | Q(kind__in=OFFER_KINDS),
                name="delivery_swap_only_on_swap_notices",
            ),
            models.UniqueConstraint(
                fields=["chat_hook", "shift", "kind"],
                condition=Q(kind__in=CHAT_SHIFT_KINDS),
                name="delivery_chat_once_per_shift",
            ),
            models.UniqueConstraint(
                fields=["chat_hook", "swap_request", "kind"],
                condition=Q(kind=Kind.CHAT_SWAP),
                name="delivery_chat_once_per_swap",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CHAT_KINDS, channel="chat", chat_hook__isnull=False)
                | Q(~Q(kind__in=CHAT_KINDS), ~Q(channel="chat"), chat_hook__isnull=True),
                name="delivery_chat_hook_only_on_chat",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
            models.Index(
                fields=["lease_until"], condition=Q(status="sending"), name="delivery_sending_lease"
            ),
            models.Index(fields=["shift", "status"], name="delivery_shift_status"),
            models.Index(fields=["status"], condition=Q(status="failed"), name="delivery_failed"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.action} by {self.channel} to user {self.user_id} "
            f"for shift {self.shift_id} ({self.status})"
        )


class EntryTombstone(models.Model):
    """A person's entry for a shift was removed (reassigned, or its roster superseded).

    Feeds keep showing it as STATUS:CANCELLED for a while so subscribed calendars drop it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="tombstones")
    sequence = models.PositiveIntegerField()
    removed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "shift"], name="tombstone_once_per_entry")
        ]
        indexes = [models.Index(fields=["removed_at"], name="tombstone_removed_at")]

    def __str__(self) -> str:
        return f"user {self.user_id} removed from shift {self.shift_id}"


class AnnouncedChain(models.Model):
    """The escalation chain a shift's entries last went out with (user ids, in order).

    A shift is a roster and a start (all its slots). A change of someone's availability
    re-sends exactly the entries whose chain it changed, once, however many edits it took.
    """

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    contact_ids = models.JSONField(default=list)
    announced_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["roster", "start"], name="announced_chain_per_shift")
        ]

    def __str__(self) -> str:
        return f"roster {self.roster_id} at {self.start:%Y-%m-%d %H:%M}Z: {self.contact_ids}"


class RotationFeed(models.Model):
    """The secret behind a rotation's team feed, and when its content last changed."""

    rotation = models.OneToOneField(Rotation, on_delete=models.CASCADE, related_name="feed")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"feed of {self.rotation}"


class FeedStamp(models.Model):
    """One row: a random value renewed after every committed write to what feeds show
    (`feed_stamp`). Feeds remember their validators under it; it is read in the same query as
    a feed's token, so every process sees a renewal made by any other, Redis or not."""

    value = models.CharField(max_length=32)
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"feed stamp {self.value}"


class CalendarConnection(models.Model):
    """A person's own CalDAV calendar that Onehand pushes their shifts to."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caldav"
    )
    url = models.URLField(max_length=500, help_text="The calendar collection's URL.")
    username = models.CharField(max_length=200)
    # Fernet token (notifications.crypto); never shown, never logged.
    password_encrypted = models.TextField()
    enabled = models.BooleanField(default=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"CalDAV calendar of user {self.user_id}"

    def __repr__(self) -> str:
        return f"<CalendarConnection user={self.user_id} enabled={self.enabled}>"


class TaskRun(models.Model):
    """What the worker last did per Celery task (for /metrics): runs, failures, durations."""

    name = models.CharField(max_length=120, unique=True)
    runs = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    seconds_total = models.FloatField(default=0.0)
    last_seconds = models.FloatField(default=0.0)
    last_finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.runs} runs"
