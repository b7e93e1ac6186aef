"""Domain events from rotation -> outbox rows, inside the sender's transaction."""

from . import outbox


def roster_published(sender, roster, **kwargs) -> None:
    outbox.queue_roster(roster)


def shifts_reassigned(sender, changes, **kwargs) -> None:
    outbox.queue_reassignments(list(changes))
