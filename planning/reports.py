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


# Chart text in SVG units: the charts are drawn 480 units wide, so on a 360 px phone screen
# 15 units is still about 11 px.
FONT = 15


def bar_chart(rows: list[PersonLoad], *, width: int = 480, bar: int = 22) -> str:
    """Stacked horizontal bars: weekday, weekend and holiday hours per person, with the hours
    axis labelled."""
    peak = max((r.hours for r in rows), default=0) or 1
    label_w, gap = 130, 8
    height = len(rows) * (bar + gap) + 62
    scale = (width - label_w - 50) / peak
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
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end" '
            f'font-size="{FONT}">{escape(r.name[:16])}</text>'
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
            f'<text x="{x + 4:.1f}" y="{y + bar - 5}" font-size="{FONT}">{r.hours:.0f} h</text>'
        )
    axis_y = len(rows) * (bar + gap)
    parts.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{width - 50}" y2="{axis_y}" stroke="#666"/>'
        f'<text x="{label_w}" y="{axis_y + 18}" font-size="{FONT}">0</text>'
        f'<text x="{width - 50}" y="{axis_y + 18}" font-size="{FONT}" text-anchor="end">'
        f"{peak:.0f}</text>"
        f'<text x="{(label_w + width - 50) / 2:.0f}" y="{axis_y + 18}" font-size="{FONT}" '
        'text-anchor="middle">On-call hours</text>'
    )
    legend_y = axis_y + 44
    for j, (colour, label) in enumerate(
        (("#60a5fa", "weekday"), ("#f59e0b", "weekend"), ("#ef4444", "holiday"))
    ):
        parts.append(
            f'<rect x="{label_w + j * 100}" y="{legend_y - 12}" width="14" height="14" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + j * 100 + 18}" y="{legend_y}" font-size="{FONT}">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: list[tuple[str, float]],
    *,
    title: str,
    y_label: str = "Gini (0 = even)",
    x_label: str = "Month",
    width: int = 480,
    height: int = 260,
) -> str:
    """One series over time (e.g. Gini of on-call hours per month), both axes labelled."""
    if not points:
        return ""
    left, right, top, bottom = 56, 16, 16, 56
    peak = max(v for _, v in points) or 1
    step = (width - left - right) / max(1, len(points) - 1)
    plot_h = height - top - bottom
    xy = [(left + i * step, top + plot_h - (v / peak) * plot_h) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy))
    base = top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
        'width="100%" '
        f'aria-labelledby="line-title"><title id="line-title">{escape(title)}</title>',
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#666"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#666"/>',
        f'<text x="{left - 6}" y="{base}" font-size="{FONT}" text-anchor="end">0</text>',
        f'<text x="{left - 6}" y="{top + 12}" font-size="{FONT}" text-anchor="end">'
        f"{peak:.2f}</text>",
        f'<text transform="translate({FONT},{top + plot_h / 2:.0f}) rotate(-90)" '
        f'font-size="{FONT}" text-anchor="middle">{escape(y_label)}</text>',
        f'<text x="{left + (width - left - right) / 2:.0f}" y="{height - 6}" '
        f'font-size="{FONT}" text-anchor="middle">{escape(x_label)}</text>',
        f'<path d="{path}" fill="none" stroke="#0b5cad" stroke-width="2.5"/>',
    ]
    # Label at most six months on the axis so the text stays legible on a phone.
    every = max(1, -(-len(points) // 6))
    for i, ((label, value), (x, y)) in enumerate(zip(points, xy)):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#0b5cad"><title>{escape(label)}: '
            f"{value:.3f}</title></circle>"
        )
        if i % every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{base + 20}" font-size="{FONT}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def trend_caption(points: list[tuple[str, float]]) -> str:
    """The fairness trend in words, for the caption under the chart."""
    if not points:
        return ""
    text = (
        "Each point is one month: how unevenly on-call hours were spread among the people "
        "in the rotation (Gini: 0 = everyone the same hours, 1 = one person carried them all)."
    )
    if len(points) == 1:
        return f"{text} {points[0][0]}: {points[0][1]:.2f}."
    best = min(points, key=lambda p: p[1])
    worst = max(points, key=lambda p: p[1])
    last = points[-1]
    return (
        f"{text} Most even: {best[0]} ({best[1]:.2f}); least even: {worst[0]} "
        f"({worst[1]:.2f}); latest, {last[0]}: {last[1]:.2f}."
    )


def bars_caption(rows: list[PersonLoad]) -> str:
    """The hours chart in words: who carried most and least."""
    if not rows:
        return "Nobody held a shift in this range."
    most = max(rows, key=lambda r: r.hours)
    least = min(rows, key=lambda r: r.hours)
    return (
        f"Each bar is one person's on-call hours in this range, split into weekday, weekend "
        f"and holiday hours. Most: {most.name}, {most.hours:.0f} h "
        f"({most.weekend_hours:.0f} h weekend, {most.holiday_hours:.0f} h holiday); "
        f"least: {least.name}, {least.hours:.0f} h."
    )


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
