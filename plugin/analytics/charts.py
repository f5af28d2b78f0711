"""Charts as server-rendered SVG: no JS chart library, and they inherit the page's theme.

Colours come from CSS classes (`chart-bar`, `chart-line`, ...) that the
Dashboard page styles for light and dark themes; every text is escaped.
"""

from __future__ import annotations

from markupsafe import escape

WIDTH = 820  # fits a 900 px wide Dashboard iframe with padding


def _svg(height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.2f}"


def hbars(title: str, items: list[tuple[str, float]], *, note: list[str] | None = None) -> str:
    """Horizontal bars with labels, values and an optional note per bar (e.g. step conversion)."""
    row, top, label_w = 30, 8, 190
    height = top * 2 + row * max(len(items), 1)
    peak = max((v for _, v in items), default=0) or 1
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        width = max((WIDTH - label_w - 150) * value / peak, 2 if value else 0)
        body.append(
            f'<text class="chart-label" x="{label_w - 10}" y="{y + 19}" text-anchor="end">{escape(label)}</text>'
        )
        body.append(
            f'<rect class="chart-bar chart-bar-{i % 6}" x="{label_w}" y="{y + 4}" width="{width:.1f}" '
            f'height="{row - 10}" rx="3"><title>{escape(label)}: {escape(_fmt(value))}</title></rect>'
        )
        text = _fmt(value) + (f"  {note[i]}" if note and note[i] else "")
        body.append(f'<text class="chart-value" x="{label_w + width + 8:.1f}" y="{y + 19}">{escape(text)}</text>')
    if not items:
        body.append(f'<text class="chart-empty" x="{WIDTH / 2}" y="{top + 19}" text-anchor="middle">No data yet</text>')
    return _svg(height, body, title)


def funnel(group: dict) -> str:
    f = group["funnel"]
    steps = [
        ("Widget views", f["widget_views"]),
        ("Shares", f["shares"]),
        ("Link clicks", f["clicks"]),
        ("Friend claims", f["claims"]),
        ("Referred orders", f["referred_orders"]),
        ("Paid first orders", f["paid_referrals"]),
        ("Rewards issued", f["rewards_issued"]),
        ("Rewards used", f["rewards_used"]),
    ]
    notes = [""]
    for (_, prev), (_, value) in zip(steps[:5], steps[1:6]):
        notes.append(f"({value / prev:.0%} of previous)" if prev else "")
    # Two rewards per referral: their notes compare to what they can be compared with.
    notes.append(f"(for {f['paid_referrals']} referrals)" if f["rewards_issued"] else "")
    notes.append(f"({f['rewards_used'] / f['rewards_issued']:.0%} of issued)" if f["rewards_issued"] else "")
    return hbars(f"Funnel, {group['channel_name']} ({group['currency'] or 'no currency'})", steps, note=notes)


def shares_by_channel(group: dict) -> str:
    items = list(group["funnel"]["shares_by_channel"].items())
    return hbars(f"Shares by channel, {group['channel_name']}", [(k, v) for k, v in items])


def money(group: dict) -> str:
    m = group["money"]
    items = [
        ("Net referred revenue", float(m["net_revenue"])),
        ("Reward cost", float(m["reward_cost"])),
        ("Friend discounts", float(m["friend_discounts"])),
        ("Total cost", float(m["total_cost"])),
    ]
    return hbars(f"Revenue and cost in {group['currency']}", items)


def daily(group: dict) -> str:
    """Referrals per day as bars, link clicks per day as a line."""
    days = group["daily"]
    height, left, bottom, top = 200, 40, 28, 12
    plot_w, plot_h = WIDTH - left - 10, height - bottom - top
    peak_bars = max((d["referrals"] for d in days), default=0) or 1
    peak_line = max((d["clicks"] for d in days), default=0) or 1
    step = plot_w / max(len(days), 1)
    body = [f'<line class="chart-axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>']
    points = []
    for i, d in enumerate(days):
        x = left + i * step
        h = plot_h * d["referrals"] / peak_bars
        if d["referrals"]:
            body.append(
                f'<rect class="chart-bar chart-bar-0" x="{x + step * 0.15:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{max(step * 0.7, 1):.1f}" height="{h:.1f}"><title>{escape(d["date"])}: '
                f"{d['referrals']} referrals, {d['clicks']} clicks</title></rect>"
            )
        points.append(f"{x + step / 2:.1f},{top + plot_h - plot_h * d['clicks'] / peak_line:.1f}")
    if days and any(d["clicks"] for d in days):
        body.append(f'<polyline class="chart-line" fill="none" points="{" ".join(points)}"/>')
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else []:
        anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
        x = left if i == 0 else left + plot_w if i == len(days) - 1 else left + i * step + step / 2
        body.append(
            f'<text class="chart-label" x="{x:.1f}" y="{height - 8}" '
            f'text-anchor="{anchor}">{escape(days[i]["date"])}</text>'
        )
    body.append(f'<text class="chart-label" x="{left - 6}" y="{top + 10}" text-anchor="end">{peak_bars}</text>')
    body.append(
        f'<text class="chart-legend" x="{left + 8}" y="{top + 10}">'
        f"bars: paid referrals per day (max {peak_bars}) · line: link clicks per day (max {peak_line})</text>"
    )
    return _svg(height, body, f"Daily referrals and clicks, {group['channel_name']}")


def charts_for(group: dict) -> dict[str, str]:
    return {"funnel": funnel(group), "daily": daily(group), "shares": shares_by_channel(group), "money": money(group)}
