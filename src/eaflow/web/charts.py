"""Small charts drawn on the server as SVG (no script, no style attribute: the page's CSP allows
neither): the intensity of the accompaniment month by month (R11)."""
from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
# R11's thresholds, in hours per month: allégé < 2 ≤ suivi < 8 ≤ régulier ≤ 12 < intensif.
THRESHOLDS = ((2, "suivi"), (8, "régulier"), (12, "intensif"))
ACCENT, GRID, TEXT = "#00616e", "#929292", "#161616"


def month_label(month: str) -> str:
    """'2026-11' → 'nov. 2026'."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def intensity_chart(months: list[dict[str, Any]], *, chart_id: str = "intensite") -> Markup:
    """Bars of the hours of each month, with R11's thresholds as dashed lines."""
    width, height, left, bottom, top = 720, 260, 44, 40, 16
    plot_h = height - bottom - top
    peak = max([12.0, *(float(m["hours"]) for m in months)]) * 1.1
    step = (width - left - 8) / max(len(months), 1)

    def y(hours: float) -> float:
        return top + plot_h * (1 - hours / peak)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-titre {chart_id}-desc" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">',
             f'<title id="{chart_id}-titre">Heures d\'accompagnement par mois</title>',
             f'<desc id="{chart_id}-desc">{escape(_summary(months))}</desc>',
             f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - 4}" y2="{y(0):.1f}" stroke="{TEXT}"/>']
    for hours, name in THRESHOLDS:
        parts.append(f'<line x1="{left}" y1="{y(hours):.1f}" x2="{width - 4}" y2="{y(hours):.1f}" stroke="{GRID}" '
                     f'stroke-dasharray="4 4"/>')
        parts.append(f'<text x="{left - 6}" y="{y(hours) + 4:.1f}" text-anchor="end" fill="{TEXT}">{hours} h</text>')
        parts.append(f'<text x="{width - 6}" y="{y(hours) - 4:.1f}" text-anchor="end" fill="{TEXT}">{name}</text>')
    for index, month in enumerate(months):
        hours = float(month["hours"])
        x = left + index * step + step * 0.2
        bar_w = step * 0.6
        label = f'{month_label(month["month"])} : {_hours(hours)} ({month["label"]})'
        if hours > 0:
            parts.append(f'<rect x="{x:.1f}" y="{y(hours):.1f}" width="{bar_w:.1f}" height="{y(0) - y(hours):.1f}" '
                         f'fill="{ACCENT}"><title>{escape(label)}</title></rect>')
        name, year = month_label(month["month"]).split(" ")
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'fill="{TEXT}">{escape(name)}</text>')
        if index == 0 or month["month"].endswith("-01"):
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 31}" text-anchor="middle" '
                         f'fill="{TEXT}">{year}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _hours(hours: float) -> str:
    return f"{hours:.1f}".replace(".", ",") + " h"


def _summary(months: list[dict[str, Any]]) -> str:
    if not months:
        return "Aucun mois."
    last = months[-1]
    total = sum(float(m["hours"]) for m in months)
    return (f"De {month_label(months[0]['month'])} à {month_label(last['month'])} : {_hours(total)} en tout ; "
            f"{month_label(last['month'])} : {_hours(float(last['hours']))}, niveau {last['label']}.")
