"""Domain events of the availability app (higher layers connect in their own apps.py).

Like `rotation/events.py`, receivers run *inside* the sending transaction, so what they write
(an outbox row for an entry whose escalation chain changed) commits or rolls back with the
availability change itself.
"""

from django.dispatch import Signal

# user_id, start, end: someone's unavailability may have changed somewhere in [start, end)
# (marked, cleared, moved, deleted, or a calendar imported or removed). Receivers decide what
# that changes (the escalation chains of published shifts, the cached on-call answer).
unavailability_changed = Signal()
