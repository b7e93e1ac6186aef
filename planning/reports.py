"""Load and fairness reports: hours per person, and small server-rendered SVG charts. Pure."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo


@dataclass
class PersonLoad:
    user_id: int
    name: str
    hours: float = 0.0
    weekend_hours: float = 0.0
    holiday_hours: float = 0.0
    shifts: int = 0
    by_month: dict[str, float] = field(default_factory=dict)


def split_hours(
    start: datetime, end: datetime, tz_name: str, holidays: frozenset[date]
) -> tuple[float, float, float]:
    """(total, weekend, holiday) hours of [start, end) by local day in the person's zone.

    A holiday that falls on a weekend counts as holiday, not both.
    """
    tz = ZoneInfo(tz_name)
    total = weekend = holiday = 0.0
    cursor = start
    while cursor < end:
        local_day = cursor.astimezone(tz).date()
        next_midnight = datetime.combine(
            local_day + timedelta(days=1), time(0), tzinfo=tz
        ).astimezone(UTC)
        piece_end = min(end, next_midnight)
        hours = (piece_end - cursor).total_seconds() / 3600
        total += hours
        if local_day in holidays:
            holiday += hours
        elif local_day.weekday() >= 5:
            weekend += hours
        cursor = piece_end
    return total, weekend, holiday


def gini(values: list[float]) -> float:
    values = sorted(v for v in values if v >= 0)
    n = len(values)
    if n == 0 or sum(values) == 0:
        return 0.0
    cumulative = sum((i + 1) * v for i, v in enumerate(values))
    return (2 * cumulative) / (n * sum(values)) - (n + 1) / n


def bar_chart(rows: list[PersonLoad], *, width: int = 720, bar: int = 18) -> str:
    """Stacked horizontal bars: weekday, weekend and holiday hours per person."""
    peak = max((r.hours for r in rows), default=0) or 1
    label_w, gap = 160, 6
    height = len(rows) * (bar + gap) + 30
    scale = (width - label_w - 60) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        'width="100%" '
        f'aria-labelledby="bars-title"><title id="bars-title">On-call hours per person</title>'
    ]
    for i, r in enumerate(rows):
        y = i * (bar + gap)
        weekday = r.hours - r.weekend_hours - r.holiday_hours
        x = label_w
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 4}" text-anchor="end" '
            f'font-size="12">{escape(r.name)}</text>'
        )
        for value, colour, label in (
            (weekday, "#60a5fa", "weekday"),
            (r.weekend_hours, "#f59e0b", "weekend"),
            (r.holiday_hours, "#ef4444", "holiday"),
        ):
            w = value * scale
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                    f'fill="{colour}"><title>{escape(r.name)}: {value:.1f} {label} '
                    "hours</title></rect>"
                )
                x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + bar - 4}" font-size="12">{r.hours:.0f} h</text>'
        )
    legend_y = len(rows) * (bar + gap) + 16
    for j, (colour, label) in enumerate(
        (("#60a5fa", "weekday"), ("#f59e0b", "weekend"), ("#ef4444", "holiday"))
    ):
        parts.append(
            f'<rect x="{label_w + j * 110}" y="{legend_y - 10}" width="12" height="12" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + j * 110 + 16}" y="{legend_y}" font-size="12">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: list[tuple[str, float]], *, title: str, width: int = 720, height: int = 220
) -> str:
    """One series over time (e.g. Gini of on-call hours per month)."""
    if not points:
        return ""
    pad = 40
    peak = max(v for _, v in points) or 1
    step = (width - 2 * pad) / max(1, len(points) - 1)
    xy = [
        (pad + i * step, height - pad - (v / peak) * (height - 2 * pad))
        for i, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        'width="100%" '
        f'aria-labelledby="line-title"><title id="line-title">{escape(title)}</title>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#999"/>',
        f'<path d="{path}" fill="none" stroke="#0b5cad" stroke-width="2"/>',
    ]
    for (label, value), (x, y) in zip(points, xy):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#0b5cad"><title>{escape(label)}: '
            f"{value:.3f}</title></circle>"
        )
        parts.append(
            f'<text x="{x:.1f}" y="{height - pad + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bus_factor_chart(
    points: list[tuple[date, int]], *, warn_below: int = 0, width: int = 720, height: int = 240
) -> str:
    """Columns: people ready for primary at the end of each month, with labelled axes and the
    warning level as a dashed line. The page puts a caption in words and a table under it."""
    if not points:
        return ""
    left, right, top, bottom = 56, 16, 16, 52
    peak = max([n for _, n in points] + [warn_below, 1])
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / len(points)
    bar = max(4.0, step * 0.6)

    def y_of(value: float) -> float:
        return top + plot_h - value / peak * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        'width="100%" aria-labelledby="bus-title">'
        '<title id="bus-title">People ready for primary, by month</title>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#999"/>',
    ]
    ticks = sorted({0, peak, *((peak // 2,) if peak > 2 else ())})
    for tick in ticks:
        parts.append(
            f'<text x="{left - 6}" y="{y_of(tick) + 4:.1f}" font-size="11" '
            f'text-anchor="end">{tick}</text>'
        )
    parts.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">People ready for primary</text>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="12" '
        'text-anchor="middle">Month (count at its end)</text>'
    )
    for i, (month, count) in enumerate(points):
        x = left + i * step + (step - bar) / 2
        y = y_of(count)
        colour = "#b91c1c" if count < warn_below else "#0b5cad"
        label = f"{month:%b %Y}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{top + plot_h - y:.1f}" '
            f'fill="{colour}"><title>{escape(label)}: {count}</title></rect>'
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{escape(f"{month:%b %y}")}</text>'
        )
    if warn_below:
        y = y_of(warn_below)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#b91c1c" '
            f'stroke-dasharray="6 4"/><text x="{width - right}" y="{y - 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#b91c1c">warning below {warn_below}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
