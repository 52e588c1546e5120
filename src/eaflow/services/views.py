"""What clients see of journeys and tasks: the read models both faces show."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlmodel import Session, select

from eaflow.services.convention import journey_convention, task_extras
from eaflow.services.decisions import exit_dossier
from eaflow.services.employment import current_employment
from eaflow.services.prescriptions import OUTCOMES
from eaflow.services.rights import journey_rights
from eaflow.services.team import counsellor_loads, with_counsellor_choices
from eaflow.store.contacts import intensity_by_month
from eaflow.store.models import (
    Journey,
    Person,
    Task,
    User,
    aware,  # noqa: F401  (re-exported)
)
from eaflow.workflows import rules, transitions
from eaflow.workflows.task_kinds import TASK_KINDS


def user_ref(session: Session, user_id: str | None, names: dict[str, str] | None = None) -> dict[str, Any] | None:
    if not user_id:
        return None
    if names is not None and user_id in names:
        return {"id": user_id, "name": names[user_id]}
    user = session.get(User, user_id)
    return {"id": user_id, "name": user.display_name or user.email if user else None}


def user_names(session: Session, tasks: list[Task]) -> dict[str, str]:
    """The names of every user a page of tasks mentions, in one query (not one per row)."""
    return names_of(session, {i for t in tasks for i in (t.assignee_id, t.completed_by) if i})


def names_of(session: Session, ids: set[str]) -> dict[str, str]:
    """The names of these users, in one query."""
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.display_name, User.email).where(User.id.in_(ids))).all()
    return {user_id: name or email for user_id, name, email in rows}


def task_view(session: Session, task: Task, *, with_schema: bool = True,
              names: dict[str, str] | None = None) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    due = aware(task.due_at)
    view = {
        "id": task.id, "kind": task.kind, "journey_id": task.journey_id, "title": task.title,
        "status": task.status, "assignee": user_ref(session, task.assignee_id, names),
        "candidate_role": task.candidate_role, "created_at": aware(task.created_at), "due_at": due,
        "overdue": task.status == "open" and due is not None and due < now,
        "outcome": task.outcome, "completed_by": user_ref(session, task.completed_by, names),
        "completed_at": aware(task.completed_at),
    }
    if with_schema:

        view["outcome_schema"] = TASK_KINDS[task.kind].outcome_schema() if task.kind in TASK_KINDS else None
        view.update(task_extras(session, task))
        if task.kind == "assign_counsellor" and task.status == "open":
            view["outcome_schema"] = with_counsellor_choices(view["outcome_schema"],
                                                             counsellor_loads(session, task.platform_id))
        if task.kind == "approve_exit":
            view["dossier"] = exit_dossier(task.context)
    return view


def journey_intensity(session: Session, journey: Journey) -> dict[str, Any]:
    """R11: the level of the current calendar month, from the contacts recorded so far."""
    today = date.today()
    (month,) = intensity_by_month(session, journey.id, today, today)
    return {"month": f"{month.month:%Y-%m}", "level": month.level, "label": month.label,
            "hours_this_month": month.hours, "workplace_hours_this_month": month.workplace_hours}


def journey_view(session: Session, journey: Journey, user: User) -> dict[str, Any]:

    person = session.get(Person, journey.id)
    open_tasks = session.exec(select(Task).where(Task.journey_id == journey.id, Task.status == "open")
                              .order_by(Task.created_at)).all()
    person_view = None
    if person:
        person_view = {"first_name": person.first_name, "last_name": person.last_name,
                       "birth_date": person.birth_date, "email": person.email, "phone": person.phone,
                       "legal_representative": person.legal_representative}
    view = {
        "id": journey.id, "state": journey.state, "state_label": transitions.label(journey.state),
        "person": person_view,
        "counsellor": user_ref(session, journey.counsellor_id), "channel": journey.channel,
        "urgent": journey.urgent, "situation": journey.situation, "prescribed_on": journey.prescribed_on,
        # R5: a CDAPH orientation accepted without the prescriber's statement of subsidiarity
        "subsidiarity_missing": rules.r5_subsidiarity_missing(journey.channel, journey.subsidiarity_reason),
        "admitted_on": journey.admitted_on, "admission_delay_days": journey.admission_delay_days,
        "cdaph_notification": ({"informed_on": journey.cdaph_informed_on, "how": journey.cdaph_informed_how}
                               if journey.cdaph_informed_on else None),
        "waiting_list": {"priority_key": journey.waiting_key} if journey.state == "waiting_list" else None,
        "convention": journey_convention(session, journey), "employment": current_employment(session, journey.id),
        "intensity": journey_intensity(session, journey), "next_interview_due": journey.next_interview_due,
        "last_contact_on": journey.last_contact_on,
        "veille": {"until": journey.veille_until} if journey.state == "veille" else None,
        "rights": journey_rights(session, journey),
        "open_tasks": [{"id": t.id, "kind": t.kind, "title": t.title, "due_at": aware(t.due_at)} for t in open_tasks],
        "refusal": journey.refusal,
        "exit": ({"reason": journey.exit_reason, "label": rules.EXIT_REASONS.get(journey.exit_reason, journey.exit_reason),
                  "on": journey.exited_on} if journey.exit_reason else None),
        "transferred_from": journey.transferred_from,
    }
    if user.role == "prescriber":
        return prescriber_view(view, journey)
    return view


def prescriber_view(view: dict[str, Any], journey: Journey) -> dict[str, Any]:
    """R22: the prescriber follows the outcome of what they sent (examined, waiting, admitted, not
    retained and why, exited and why: the words of their own pages and mails), not the file. Never
    the counsellor's follow-up (tasks, contacts, intensity, employment, interviews), nor what can
    reveal health: no BOE category (its items name pensions: invalidity, work accident), no
    renewal or CDAPH decision, only whether the rights are in force; no veille (R14, often a health
    reason): a person in veille is still accompanied, under a convention in force, and shown so;
    nor the avenants (one of them puts the accompaniment in veille)."""
    for private in ("open_tasks", "cdaph_notification", "employment", "intensity", "next_interview_due",
                    "last_contact_on", "veille"):
        view.pop(private)
    if journey.state == "veille":
        view["state"], view["state_label"] = "accompaniment", transitions.label("accompaniment")
    outcome, label, meaning = OUTCOMES[journey.state]
    view.update(outcome=outcome, outcome_label=label, outcome_meaning=meaning)
    rights = view["rights"]
    boe = rules.normalise_boe_item(journey.boe_category) if journey.boe_category else None
    rqth_in_force = journey.rqth_permanent or (journey.rqth_until is not None and journey.rqth_until >= date.today())
    view["rights"] = {"rqth_until": rights["rqth_until"], "rqth_permanent": rights["rqth_permanent"],
                      "in_force": bool(rqth_in_force or boe in rules.VALID_BOE_ITEMS)}
    if view["convention"]:
        view["convention"] = {key: view["convention"][key] for key in ("status", "signed_on", "version")}
    # The reasons a prescription was not retained are about what the prescriber sent (R1–R5).
    view["refusal"] = [{"rule": r.get("rule"), "detail": r.get("detail")} for r in journey.refusal or ()] or None
    return view
