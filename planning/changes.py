"""What one roster changes against another, person by person: the preview before publishing
(draft against what is published) and the comparison of two drafts use the same reading.

A slot is (start, role); a person gains a slot they hold in the new roster but not in the old,
loses one they held in the old but not in the new. Their partner changes when they keep a
shift but the people on its other slots differ. Shares are of a fair share: 100% means the
person carries exactly their part of the roster's load given their capacity (FTE x free time).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from onehand.people import display_name
from rotation import selectors as rotation_selectors
from rotation.models import Roster, Shift


@dataclass
class PartnerChange:
    start: datetime
    end: datetime
    before: str  # names, "nobody" when alone
    after: str


@dataclass
class PersonChange:
    user_id: int
    name: str
    gained: list[Shift] = field(default_factory=list)
    lost: list[Shift] = field(default_factory=list)
    partners: list[PartnerChange] = field(default_factory=list)
    share_before: int | None = None  # percent of fair share
    share_after: int | None = None

    @property
    def share_change(self) -> int | None:
        if self.share_before is None or self.share_after is None:
            return None
        return self.share_after - self.share_before

    @property
    def net(self) -> int:
        return len(self.gained) - len(self.lost)


def fair_shares(summary: dict | None) -> dict[int, int]:
    """Each person's draft load as a percentage of their fair share of it, from a roster's
    recommender summary: fair share = roster load x capacity / total capacity."""
    people = (summary or {}).get("people") or {}
    total_load = sum(p.get("draft_load", 0.0) for p in people.values())
    total_capacity = sum(p.get("capacity", 0.0) for p in people.values())
    if total_load <= 0 or total_capacity <= 0:
        return {}
    return {
        int(pid): round(
            100 * p.get("draft_load", 0.0) / (total_load * p["capacity"] / total_capacity)
        )
        for pid, p in people.items()
        if p.get("capacity")
    }


def _slots(shifts) -> dict[tuple[datetime, str], Shift]:
    return {(s.start, s.role): s for s in shifts}


def _names_at(slots: dict, start: datetime, but: int) -> str:
    names = sorted(
        display_name(s.assignee)
        for (at, _), s in slots.items()
        if at == start and s.assignee_id and s.assignee_id != but
    )
    return ", ".join(names) or "nobody"


def diff(
    old: list[Shift],
    new: list[Shift],
    *,
    shares_before: dict[int, int] | None = None,
    shares_after: dict[int, int] | None = None,
) -> list[PersonChange]:
    """People whose shifts, partners or share change, most shifts gained first."""
    old_slots, new_slots = _slots(old), _slots(new)
    people: dict[int, PersonChange] = {}

    def person(shift: Shift) -> PersonChange:
        if shift.assignee_id not in people:
            people[shift.assignee_id] = PersonChange(
                shift.assignee_id, display_name(shift.assignee)
            )
        return people[shift.assignee_id]

    for key, slot in new_slots.items():
        before = old_slots.get(key)
        if slot.assignee_id and (before is None or before.assignee_id != slot.assignee_id):
            person(slot).gained.append(slot)
    for key, slot in old_slots.items():
        after = new_slots.get(key)
        if slot.assignee_id and (after is None or after.assignee_id != slot.assignee_id):
            person(slot).lost.append(slot)
    held_before: dict[int, set[datetime]] = defaultdict(set)
    for (start, _), slot in old_slots.items():
        if slot.assignee_id:
            held_before[slot.assignee_id].add(start)
    for (start, _), slot in sorted(new_slots.items(), key=lambda kv: kv[0]):
        if not slot.assignee_id or start not in held_before[slot.assignee_id]:
            continue
        before = _names_at(old_slots, start, slot.assignee_id)
        after = _names_at(new_slots, start, slot.assignee_id)
        if before != after:
            person(slot).partners.append(PartnerChange(start, slot.end, before, after))
    shares_before, shares_after = shares_before or {}, shares_after or {}
    for user_id, change in people.items():
        change.share_before = shares_before.get(user_id)
        change.share_after = shares_after.get(user_id)
    changed = [p for p in people.values() if p.gained or p.lost or p.partners]
    return sorted(changed, key=lambda p: (-p.net, p.name.lower()))


def _shifts(query: Q) -> list[Shift]:
    return list(Shift.objects.filter(query).select_related("assignee").order_by("start", "role"))


def publish_changes(*, roster: Roster) -> list[PersonChange]:
    """A draft against the published slots of the same period it would replace."""
    replaced = list(rotation_selectors.superseded_by_publishing(roster=roster))
    old = _shifts(Q(roster__in=replaced)) if replaced else []
    new = _shifts(Q(roster=roster))
    # Only the part of the published rosters this draft covers changes hands.
    if new:
        first, last = new[0].start, max(s.end for s in new)
        old = [s for s in old if s.start >= first and s.end <= last]
    before = fair_shares(replaced[0].summary) if len(replaced) == 1 else {}
    return diff(old, new, shares_before=before, shares_after=fair_shares(roster.summary))


def compare_rosters(*, old: Roster, new: Roster) -> list[PersonChange]:
    """Two rosters of the same rotation (drafts or published), person by person."""
    shifts = _shifts(Q(roster_id__in=[old.pk, new.pk]))
    return diff(
        [s for s in shifts if s.roster_id == old.pk],
        [s for s in shifts if s.roster_id == new.pk],
        shares_before=fair_shares(old.summary),
        shares_after=fair_shares(new.summary),
    )


def largest_load(summary: dict | None) -> str:
    """Who carries the largest load, in words: a person on this roster, or a person whose load
    comes from history alone (no shift in this roster)."""
    people = (summary or {}).get("people") or {}
    if not people:
        return "—"
    top = max(people.values(), key=lambda p: (p.get("projected", 0.0), p.get("name", "")))
    share = fair_shares(summary)
    pid = next(int(k) for k, v in people.items() if v is top)
    if top.get("draft_load", 0.0) > 0:
        percent = share.get(pid)
        return f"{top.get('name', '')}" + (f" ({percent}% of fair share)" if percent else "")
    return (
        f"From history: {top.get('name', '')} has no shift on this roster; "
        "their past year alone is the largest load"
    )
