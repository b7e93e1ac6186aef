"""Domain events from rotation -> outbox rows, inside the sender's transaction."""

from . import outbox


def roster_published(sender, roster, **kwargs) -> None:
    outbox.queue_roster(roster)


def shifts_reassigned(sender, changes, **kwargs) -> None:
    outbox.queue_reassignments(list(changes))


def unavailability_changed(sender, user_id, start, end, **kwargs) -> None:
    """Someone's time away changed: shifts that named them (or now can) get their new chain."""
    outbox.queue_escalation_changes(user_id=user_id, start=start, end=end)
