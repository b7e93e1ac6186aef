"""Domain events from rotation -> outbox rows, inside the sender's transaction."""

from . import services


def roster_published(sender, roster, **kwargs) -> None:
    services.queue_roster(roster)


def shifts_reassigned(sender, changes, **kwargs) -> None:
    services.queue_reassignments(list(changes))
