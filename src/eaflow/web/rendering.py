"""The pages' templates: Jinja2 with autoescape and StrictUndefined (a missing variable fails, never
prints nothing), French date filters."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from eaflow.documents.render import datetime_fr
from eaflow.notifications.registry import date_fr, date_short
from eaflow.web import forms
from eaflow.web.navigation import navigation
from eaflow.workflows import transitions

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _minutes(value: int | None) -> str:
    """'1 h 30', '45 min'."""
    minutes = int(value or 0)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def _hours(value: float | None) -> str:
    return f"{value or 0:.1f}".replace(".", ",") + " h"


def _fte(value: float | None) -> str:
    """0.5 → "0,5", 20.0 → "20": a French number without useless decimals."""
    return f"{value or 0:g}".replace(".", ",")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(date_fr=date_fr, date_short=date_short, datetime_fr=datetime_fr, minutes=_minutes, fte=_fte,
                       hours=_hours)
    env.globals.update(render_fields=forms.render_fields, field_id=forms.field_id, outcome_rows=forms.describe, label_of=forms.label_of, navigation=navigation,
                       state_labels={state.value: label for state, label in transitions.LABELS.items()})
    return env


ENV = _environment()


def render_page(request: Request, template: str, *, status: int = 200, headers: dict[str, str] | None = None,
                **context: Any) -> HTMLResponse:
    """A whole page; the layout reads who is signed in and the CSRF token from the request."""
    visitor = getattr(request.state, "visitor", None)
    html = ENV.get_template(template).render(
        request_path=request.url.path, visitor=visitor,
        csrf_token=visitor.csrf if visitor else getattr(request.state, "anonymous_csrf", ""), **context)
    return HTMLResponse(html, status_code=status, headers=headers)  # security headers: eaflow/security_headers.py
