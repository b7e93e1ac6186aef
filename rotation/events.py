"""Domain events other apps subscribe to (notifications connects in its own apps.py).

Receivers run *inside* the sending transaction, so an outbox row they write commits or rolls
back with the change itself; anything that talks to the outside world must be queued with
`transaction.on_commit`.
"""

from django.dispatch import Signal

# roster: the Roster just published (its shifts have their final assignees).
roster_published = Signal()

# changes: list of (shift, previous_assignee_id) for slots whose assignee changed after
# publishing (manager edit or swap); shift.sequence has already been bumped.
shifts_reassigned = Signal()

# offers: list of SwapOffer rows just created (ask these people by email).
swap_offers_made = Signal()

# request, offers, reason: open offers just withdrawn ("taken", "assigned", "cancelled",
# "expired"); tell their holders why.
swap_offers_closed = Signal()

# request: a SwapRequest that was settled (done or cancelled); offers already updated.
swap_settled = Signal()

# request, candidates: an open SwapRequest near its deadline with no taker (tell the managers).
swap_needs_manager = Signal()

# request: an accepted swap that waits for a manager's approval.
swap_awaits_approval = Signal()

# request, offer: a manager rejected the accepted swap; the taker is told, others are asked.
swap_rejected = Signal()

# request: the shift started with nobody found; the request is expired (alert the managers).
swap_uncovered = Signal()
