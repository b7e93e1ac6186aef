"""The escalation chain: whom the primary calls next, naming only people who can be reached.

The one place the chain is chosen. Invites, the personal and team feeds (through
notifications.selectors), the on-call answer, the rotation and home pages (through
`rotation.selectors.escalation_chains`, which planning/apps.py points here) all use it.

For each shift, in order, each step naming the first *reachable* person not named before
(and not the primary), and left out when there is nobody (experienced people stand in only
for a step someone is set for, who is away):

1. secondary: the shift's secondary (scheduled for the shift, so not checked here);
2. mentor: the primary's own mentor, else the rotation's mentor, else the rotation's
   experienced people (most primary shifts served first);
3. lead: the rotation's lead, else the rotation's mentor, else the experienced people.

Reachable means an active account, an active member of the rotation's team (a lead or mentor
who left the team, or whose membership is only an invitation, is nobody to call: red-team
finding), and no time away anywhere in the shift (`availability.selectors.leave_by_person`:
entered unavailability, imported out-of-office or all-day time; an imported meeting is not
time away). A constant number of queries for any number of shifts: one for time away, and
only when a fallback to experienced people is needed, a few more per rotation concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from availability.selectors import leave_by_person
from rotation.models import Rotation
from rotation.selectors import Contact, ShiftPeople, active_memberships, contact_of

from .experience import experience_by_person

User = get_user_model()

Interval = tuple[datetime, datetime]


def _away_during(spans: list[Interval], start: datetime, end: datetime) -> bool:
    return any(s < end and e > start for s, e in spans)


def _experienced_users(*, rotation: Rotation, as_of: datetime) -> list:
    """The rotation's experienced (primary-ready) people who are active members of its team,
    most primary shifts served first, with `person` loaded (planning/experience.py: three or
    four queries)."""
    found = experience_by_person(rotation=rotation, as_of=as_of)
    ranked = sorted(
        (uid for uid, e in found.items() if e.experienced),
        key=lambda uid: (-found[uid].primary, -found[uid].secondary, uid),
    )
    members = active_memberships().filter(team_id=rotation.team_id).values("user_id")
    users = User.objects.select_related("person").filter(pk__in=members).in_bulk(ranked)
    return [users[uid] for uid in ranked if uid in users]


def _active_members(*, user_ids: Iterable[int], team_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(team id, user id) of the active memberships among these people and teams (one query)."""
    return set(
        active_memberships()
        .filter(user_id__in=list(user_ids), team_id__in=list(team_ids))
        .values_list("team_id", "user_id")
    )


@dataclass
class _Fallbacks:
    """Experienced people per rotation, fetched only for rotations that need them."""

    as_of: datetime
    users: dict[int, list]
    away: dict[int, list[Interval]]
    window: Interval
    members: set[tuple[int, int]]  # (team id, user id): active members among those named

    def of(self, rotation: Rotation) -> list:
        found = self.users.get(rotation.pk)
        if found is None:
            found = self.users[rotation.pk] = _experienced_users(
                rotation=rotation, as_of=self.as_of
            )
            self.members.update((rotation.team_id, u.pk) for u in found)
            missing = [u.pk for u in found if u.pk not in self.away]
            if missing:
                self.away.update(
                    leave_by_person(user_ids=missing, start=self.window[0], end=self.window[1])
                )
        return found


def _pick(candidates: Iterable, taken: set[int], reachable) -> object | None:
    for user in candidates:
        if user is not None and user.pk not in taken and reachable(user):
            return user
    return None


def _chain(shift: ShiftPeople, away: dict[int, list[Interval]], fallbacks: _Fallbacks):
    rotation, primary, secondary = shift.rotation, shift.primary, shift.secondary

    def reachable(user) -> bool:
        # a deactivated account or someone no longer in the team is nobody to escalate to
        # (red-team findings)
        return (
            user.is_active
            and (rotation.team_id, user.pk) in fallbacks.members
            and not _away_during(away.get(user.pk, []), shift.start, shift.end)
        )

    chain: list[Contact] = []
    taken = {primary.pk} if primary is not None else set()
    if secondary is not None and secondary.pk not in taken:
        taken.add(secondary.pk)
        chain.append(contact_of(role="secondary", user=secondary))
    own_mentor = None
    if primary is not None and getattr(primary, "person", None) and primary.person.mentor_id:
        own_mentor = primary.person.mentor

    def step(role: str, first: list) -> None:
        user = _pick(first, taken, reachable)
        if user is None and any(u is not None and u.pk not in taken for u in first):
            # Someone is set for this step but away: experienced people stand in. (A step
            # nobody is set for stays empty, as the team chose.)
            user = _pick(fallbacks.of(rotation), taken, reachable)
        if user is not None:
            taken.add(user.pk)
            chain.append(contact_of(role=role, user=user))

    step("mentor", [own_mentor, rotation.mentor])
    step("lead", [rotation.lead, rotation.mentor])
    return chain


def escalation_chains(*, shifts: Sequence[ShiftPeople]) -> list[list[Contact]]:
    """Each shift's escalation chain (see the module docstring), in the order given."""
    if not shifts:
        return []
    window = (min(s.start for s in shifts), max(s.end for s in shifts))
    named: set[int] = set()
    for shift in shifts:
        rotation = shift.rotation
        named |= {rotation.mentor_id, rotation.lead_id}
        if shift.primary is not None and getattr(shift.primary, "person", None):
            named.add(shift.primary.person.mentor_id)
    named.discard(None)
    away = leave_by_person(user_ids=named, start=window[0], end=window[1])
    members = _active_members(user_ids=named, team_ids={s.rotation.team_id for s in shifts})
    fallbacks = _Fallbacks(
        as_of=timezone.now(), users={}, away=away, window=window, members=members
    )
    return [_chain(shift, away, fallbacks) for shift in shifts]


def reachable_escalation_by_shift(
    *, rotation: Rotation, shifts: Iterable
) -> dict[tuple[datetime, datetime], bool]:
    """For the recommender: whether someone to escalate to beyond the two on call (the
    rotation's mentor or lead, or one of its experienced people) is reachable throughout each
    shift. `shifts` are anything with `start` and `end` (saved shifts or draft slots); the
    answer is keyed by (start, end). A primary's own mentor is not counted: who the primary is
    is what the draft decides. Two queries, or a few more when the mentor and lead are away."""
    spans = list(dict.fromkeys((s.start, s.end) for s in shifts))
    if not spans:
        return {}
    window = (min(s for s, _ in spans), max(e for _, e in spans))
    named = [u for u in (rotation.mentor_id, rotation.lead_id) if u is not None]
    if named:  # only active members of the team are anyone to escalate to
        members = _active_members(user_ids=named, team_ids=[rotation.team_id])
        named = [u for u in named if (rotation.team_id, u) in members]
    away = leave_by_person(user_ids=named, start=window[0], end=window[1])
    answer: dict[tuple[datetime, datetime], bool] = {}
    experienced: list | None = None
    for start, end in spans:
        if any(not _away_during(away[u], start, end) for u in named):
            answer[(start, end)] = True
            continue
        if experienced is None:
            experienced = [u.pk for u in _experienced_users(rotation=rotation, as_of=window[0])]
            away.update(leave_by_person(user_ids=experienced, start=window[0], end=window[1]))
        answer[(start, end)] = any(not _away_during(away[u], start, end) for u in experienced)
    return answer
