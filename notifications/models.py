"""Outbox rows, feed tokens, removed-assignment records and CalDAV connections.

A Delivery is written in the same transaction as the change it announces (publish, edit,
swap, or a reminder falling due); Celery only nudges rows along, the row is the truth.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from rotation.models import Rotation, Shift, new_token


class Channel(models.TextChoices):
    EMAIL = "email", "Email invitation"
    CALDAV = "caldav", "CalDAV calendar"
    REMINDER = "reminder", "Reminder email"
    HANDOFF_IN = "handoff_in", "Handoff note (incoming)"
    HANDOFF_OUT = "handoff_out", "Handoff note (outgoing)"
    # Swap emails. Their row's ``sequence`` holds the SwapOffer (offer) or SwapRequest id,
    # which keeps "one email per offer / per event" unique and idempotent.
    SWAP_OFFER = "swap_offer", "Swap offer"
    SWAP_MANAGER = "swap_manager", "Swap needs a manager"
    SWAP_RESULT = "swap_result", "Swap outcome"


# Channels that carry the calendar entry itself (REQUEST/CANCEL); the rest are one-off notes.
ENTRY_CHANNELS = (Channel.EMAIL, Channel.CALDAV)
NOTE_CHANNELS = (Channel.REMINDER, Channel.HANDOFF_IN, Channel.HANDOFF_OUT)
SWAP_CHANNELS = (Channel.SWAP_OFFER, Channel.SWAP_MANAGER, Channel.SWAP_RESULT)


class Delivery(models.Model):
    """One message to one person about one shift over one channel, for one change.

    ``sequence`` is the entry's iCalendar SEQUENCE for invites and CalDAV (so every change
    gets a row of its own) and 0 for reminders and handoff notes (one per person and shift).
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
        SKIPPED = "skipped", "Skipped"  # replaced by a newer change before it went out

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries"
    )
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    sequence = models.PositiveIntegerField()
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
                fields=["user", "shift", "channel", "sequence"], name="delivery_once_per_change"
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
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.action} #{self.sequence} to user {self.user_id} for shift {self.shift_id} ({self.status})"


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


class RotationFeed(models.Model):
    """The secret behind a rotation's team feed, and when its content last changed."""

    rotation = models.OneToOneField(Rotation, on_delete=models.CASCADE, related_name="feed")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"feed of {self.rotation}"


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
