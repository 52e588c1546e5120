"""The charts of the indicators page (R20), drawn on the server as SVG: no script, no style attribute
(the page's CSP allows neither), colours as presentation attributes. Each chart has a title and a
description (role="img"); the page gives the same figures as a table beside it.

- `bar_chart`: one horizontal bar per category (exits by reason, person-months by intensity level);
- `caseload_chart`: each counsellor's caseload at the end of the period against their capacity (R7).
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from eaflow.web.charts import ACCENT, GRID, TEXT
from eaflow.workflows import rules

OVER = "#b3261e"  # a caseload above capacity (the error colour of eaflow.css)
WIDTH = 720
LEFT, RIGHT = 4, 56  # room on the right for the value written after the longest bar
ROW, BAR = 44, 18  # a row: its label on one line, its bar below


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    limit: float | None = None  # the capacity drawn behind the bar (caseload_chart)


def number_fr(value: float | None) -> str:
    """'3,8', '12', '—' for a value that cannot be computed."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}".replace(".", ",")


def _open(chart_id: str, title: str, description: str, height: int) -> list[str]:
    return [f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-titre {chart_id}-desc" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="13" '
            f'class="indicator-chart">',
            f'<title id="{chart_id}-titre">{escape(title)}</title>',
            f'<desc id="{chart_id}-desc">{escape(description)}</desc>']


def _summary(bars: list[Bar], unit: str) -> str:
    if not bars:
        return "Aucune donnée."
    return " ; ".join(f"{bar.label} : {number_fr(bar.value)}{unit}"
                      + (f" sur {number_fr(bar.limit)}" if bar.limit is not None else "") for bar in bars) + "."


def _rows(bars: list[Bar], top: int, unit: str) -> tuple[list[str], int]:
    peak = max([1.0, *(float(b.value) for b in bars), *(float(b.limit) for b in bars if b.limit is not None)])
    span = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return LEFT + span * value / peak

    parts = []
    y = top
    for bar in bars:
        value = float(bar.value)
        words = f"{bar.label} : {number_fr(bar.value)}{unit}" + (
            f" (capacité {number_fr(bar.limit)})" if bar.limit is not None else "")
        parts.append(f'<text x="{LEFT}" y="{y + 14}" fill="{TEXT}">{escape(bar.label)}</text>')
        bar_top = y + 20
        if bar.limit is not None:
            parts.append(f'<rect x="{LEFT}" y="{bar_top - 3}" width="{x(float(bar.limit)) - LEFT:.1f}" '
                         f'height="{BAR + 6}" fill="#fff" stroke="{GRID}" stroke-width="1.5"/>')
        colour = OVER if bar.limit is not None and value > float(bar.limit) else ACCENT
        if value > 0:
            parts.append(f'<rect x="{LEFT}" y="{bar_top}" width="{x(value) - LEFT:.1f}" height="{BAR}" '
                         f'fill="{colour}"><title>{escape(words)}</title></rect>')
        end = max(x(value), x(float(bar.limit)) if bar.limit is not None else 0)
        parts.append(f'<text x="{end + 6:.1f}" y="{bar_top + BAR - 4}" fill="{TEXT}" font-weight="600">'
                     f'{escape(number_fr(bar.value))}</text>')
        y += ROW
    parts.append(f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{y}" stroke="{TEXT}"/>')
    return parts, y


def bar_chart(bars: list[Bar], *, title: str, chart_id: str, unit: str = "") -> Markup:
    """One horizontal bar per category, its value written after it."""
    rows, bottom = _rows(bars, 4, unit)
    parts = _open(chart_id, title, _summary(bars, unit), bottom + 8) + rows
    parts.append("</svg>")
    return Markup("".join(parts))


def caseload_chart(bars: list[Bar], *, title: str, chart_id: str) -> Markup:
    """Each counsellor's caseload (filled, red above capacity) inside a frame as long as their capacity."""
    legend_h = 30
    rows, bottom = _rows(bars, legend_h, " personnes")
    parts = _open(chart_id, title, _summary(bars, " personnes"), bottom + 8)
    parts += [f'<rect x="{LEFT}" y="6" width="16" height="14" fill="{ACCENT}"/>',
              f'<text x="{LEFT + 22}" y="18" fill="{TEXT}">personnes suivies (hors veille)</text>',
              f'<rect x="{LEFT + 260}" y="6" width="16" height="14" fill="#fff" stroke="{GRID}" stroke-width="1.5"/>',
              f'<text x="{LEFT + 282}" y="18" fill="{TEXT}">capacité ({rules.PERSONS_PER_FTE} par ETP, R7)</text>',
              f'<rect x="{LEFT + 480}" y="6" width="16" height="14" fill="{OVER}"/>',
              f'<text x="{LEFT + 502}" y="18" fill="{TEXT}">au-delà de la capacité</text>']
    parts += rows
    parts.append("</svg>")
    return Markup("".join(parts))
