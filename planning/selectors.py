"""Reads of the planning layer: the plan calendar (people x days) and the load report."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from availability import selectors as availability
from onehand.people import display_name
from rotation.models import Rotation, Shift, SlotRole

from . import inputs
from . import recommender as rec
from .experience import Experience, experience_by_person
from .inputs import HISTORY_STATUSES, public_holidays
from .reports import PersonLoad, gini, split_hours

_CELL_HTML = {
    "un": '<td class="cell un{we}"><span title="Unavailable">✕</span></td>',
    "part": '<td class="cell part{we}"><span title="Partly unavailable">◐</span></td>',
    "pref": '<td class="cell pref{we}"><span title="Prefers this day">★</span></td>',
    "": '<td class="cell{we}"></td>',
}


@dataclass
class PlanCell:
    day: date
    unavailable: bool = False
    partial: bool = False
    preferred: bool = False
    weekend: bool = False


@dataclass
class PlanRow:
    user_id: int
    name: str
    time_zone: str
    roles: list[str]
    needs_shadow: int
    utilisation: object
    level: object
    cells: list[PlanCell]
    experience: Experience | None = None


def plan_calendar(
    *, rotation: Rotation, month_start, month_end, viewer_tz: str, now: datetime
) -> list[PlanRow]:
    """People x days of a period, with availability, eligibility, utilisation and level.

    A constant number of queries whatever the team size: everything is fetched per
    rotation and grouped in Python.
    """

    tz = ZoneInfo(viewer_tz)
    start = datetime.combine(month_start, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(month_end, time(0), tzinfo=tz).astimezone(UTC)
    settings = inputs.recommender_settings(rotation)
    experience = experience_by_person(rotation=rotation, as_of=now)
    candidates = inputs.candidates_for(
        rotation, start, end, now=now, settings=settings, experience=experience
    )
    ids = [c.person_id for c in candidates]
    preferred = availability.preferences_by_person(user_ids=ids, start=start, end=end)
    utilisation = availability.utilisation_for(
        user_ids=ids, start=start, end=end, exclude_rotation_id=rotation.pk
    )
    levels = rec.levels(candidates, settings)
    days = []
    day = month_start
    while day < month_end:
        day_start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        days.append((day, day_start, day_end))
        day += timedelta(days=1)

    def covers(intervals, a, b):
        overlap = sum(max(0.0, (min(e, b) - max(s, a)).total_seconds()) for s, e in intervals)
        return overlap, (b - a).total_seconds()

    rows = []
    for c in candidates:
        cells = []
        for day, a, b in days:
            covered, total = covers(c.unavailable, a, b)
            pref, _ = covers(preferred.get(c.person_id, ()), a, b)
            cells.append(
                PlanCell(
                    day=day,
                    unavailable=covered >= total - 1,
                    partial=0 < covered < total - 1,
                    preferred=pref > 0,
                    weekend=day.weekday() >= 5,
                )
            )
        rows.append(
            PlanRow(
                user_id=c.person_id,
                name=c.name,
                time_zone=c.time_zone,
                roles=sorted(c.roles),
                needs_shadow=c.needs_shadow,
                utilisation=utilisation.get(c.person_id),
                level=levels.get(c.person_id),
                cells=cells,
                experience=experience.get(c.person_id),
            )
        )
    rows.sort(key=lambda r: (r.level.rank if r.level else 0, r.name))
    return rows


def plan_cells_html(*, cells: list[PlanCell]) -> str:
    """One row of day cells as fixed markup: 50 people x 31 days is 1,550 cells, too many
    for the template engine to render quickly; nothing user-supplied goes in here."""
    out = []
    for c in cells:
        state = "un" if c.unavailable else "part" if c.partial else "pref" if c.preferred else ""
        out.append(_CELL_HTML[state].format(we=" we" if c.weekend else ""))
    return "".join(out)


def load_report(*, rotation: Rotation, start: datetime, end: datetime):
    """Worked (or planned) load per person in [start, end), plus the monthly Gini of hours."""
    members = {m.user_id: m.user for m in rotation.rotation_members.select_related("user__person")}
    rows: dict[int, PersonLoad] = {
        uid: PersonLoad(user_id=uid, name=display_name(u)) for uid, u in members.items()
    }
    shifts = (
        Shift.objects.filter(
            roster__rotation=rotation,
            roster__status__in=HISTORY_STATUSES,
            assignee__isnull=False,
            start__lt=end,
            end__gt=start,
        )
        .exclude(role=SlotRole.SHADOW)
        .select_related("assignee__person")
    )
    months: dict[str, dict[int, float]] = {}
    for shift in shifts:
        user = shift.assignee
        row = rows.setdefault(user.pk, PersonLoad(user_id=user.pk, name=display_name(user)))
        a, b = max(shift.start, start), min(shift.end, end)
        person = user.person
        total, weekend, holiday = split_hours(
            a, b, person.time_zone, public_holidays(person.country, a.year, b.year)
        )
        row.hours += total
        row.weekend_hours += weekend
        row.holiday_hours += holiday
        row.shifts += 1
        key = f"{a:%Y-%m}"
        months.setdefault(key, {})
        months[key][user.pk] = months[key].get(user.pk, 0.0) + total
    trend = [(key, gini([months[key].get(uid, 0.0) for uid in rows])) for key in sorted(months)]
    return sorted(rows.values(), key=lambda r: (-r.hours, r.name)), trend
