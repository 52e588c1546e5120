"""Render a document: Jinja2 (French, autoescaped HTML, StrictUndefined) to an HTML fragment, a page,
and a PDF (fpdf2, pure Python, through its HTML support).

The PDF embeds DejaVu Sans when the system has it (Debian's fonts-dejavu-core, on this machine and
in most images) so that every character prints; without it, the PDF falls back to Helvetica and
characters outside Latin-1 are transliterated (œ → oe, ’ → ') or replaced by '?'.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from eaflow.notifications.registry import _local, date_fr

TEMPLATES_DIR = Path(__file__).parent / "templates"
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts/dejavu"))
_STYLES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
           "BI": "DejaVuSans-BoldOblique.ttf"}
_LATIN1 = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-",
                         "…": "...", "€": "EUR", "\u202f": " ", "\u2009": " "})


def datetime_fr(value: Any) -> str:
    """'22 novembre 2026 à 14 h 05' (French time)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    local = _local(moment)
    return f"{date_fr(local)} à {local.hour} h {local.minute:02d}"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["j2", "html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["date_fr"] = date_fr
    env.filters["datetime_fr"] = datetime_fr
    return env


_ENV = _environment()


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context).strip() + "\n"


def page(title: str, body: str) -> str:
    """A whole HTML page around a fragment (the fragment is trusted: rendered by `render`)."""
    return render("page.html.j2", title=title, body=body)


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def _font_dir() -> Path | None:
    for directory in FONT_DIRS:
        if all((directory / name).exists() for name in _STYLES.values()):
            return directory
    return None


def to_pdf(fragments: list[str], *, title: str, created: datetime) -> bytes:
    """A PDF of HTML fragments, each starting on a new page; `created` fixes its date, so the
    same fragments give the same bytes."""
    from fpdf import FPDF, TextStyle  # imported here: the API and the workflows do not need it loaded

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, size=8)
            self.cell(0, 8, text=clean(f"{title} — page {self.page_no()}/{{nb}}"), align="C")

    fonts = _font_dir()
    pdf = _Pdf(format="A4")
    if fonts:
        family = "DejaVu"
        for style, name in _STYLES.items():
            pdf.add_font(family, style, str(fonts / name))

        def clean(text: str) -> str:
            return text
    else:
        family = "helvetica"

        def clean(text: str) -> str:
            return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(clean(title))
    pdf.set_creator("eaflow")
    pdf.set_creation_date(created)
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    for fragment in fragments:
        pdf.add_page()
        pdf.set_font(family, size=10)
        pdf.write_html(clean(fragment), font_family=family, tag_styles={
            "h1": TextStyle(font_family=family, font_style="B", font_size_pt=17, color="#000091", t_margin=2, b_margin=3),
            "h2": TextStyle(font_family=family, font_style="B", font_size_pt=12, color="#000091", t_margin=4, b_margin=1),
        })
    return bytes(pdf.output())
