"""The managers' view of their platform's people: the waiting list in R6 order, and each counsellor's
load against their capacity (R7), with what is late (overdue tasks, quarterly interviews past due,
R12) and what comes next. Aggregates in a few grouped queries, whatever the platform's size."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from eaflow.activities.notify import SITUATION_LABELS
from eaflow.services import roles
from eaflow.services.access import audit_reads, journey_filter
from eaflow.services.operators import operator_scope
from eaflow.services.db import db_scope
from eaflow.settings import Settings
from eaflow.store.models import CLOSED_STATES, Journey, Person, Task, User, aware
from eaflow.workflows import rules

# Why a group comes first on the waiting list (R6), in the words a manager reads.
PRIORITY_REASONS = {
    0: "En emploi : le maintien dans l'emploi passe en premier",
    1: "Embauche imminente",
    2: "Sortie d'ESAT vers le milieu ordinaire",
    3: "En recherche d'emploi",
}
NEXT_DEADLINES = 3


def waiting_list(settings: Settings, user: User) -> list[dict[str, Any]]:
    """Persons waiting for a counsellor, in R6 order (group, then prescription date)."""
    roles.check(user, roles.MANAGERS)
    with db_scope(settings) as session:
        rows = session.exec(
            select(Journey.id, Journey.situation, Journey.urgent, Journey.prescribed_on, Person.first_name,
                   Person.last_name, Task.id)
            .join(Person, Person.journey_id == Journey.id)
            .join(Task, (Task.journey_id == Journey.id) & (Task.kind == "assign_counsellor")
                  & (Task.status == "open"), isouter=True)
            # A person whose counsellor was just designated is no longer waiting, though the journey
            # may not have projected its next state yet (the designation is written first, R8).
            .where(Journey.platform_id == user.platform_id, Journey.state == "waiting_list",
                   Journey.counsellor_id.is_(None))
            .order_by(Journey.waiting_key, Journey.id)
        ).all()
        audit_reads(session, [row[0] for row in rows], user, "waiting_list_read")  # R22: names on the list
    today = date.today()
    items = []
    for rank, (journey_id, situation, urgent, prescribed_on, first_name, last_name, task_id) in enumerate(rows, 1):
        group = rules.r6_priority_group(situation)
        items.append({
            "rank": rank, "journey_id": journey_id,
            "person": {"first_name": first_name, "last_name": last_name},
            "situation": situation, "situation_label": SITUATION_LABELS[situation],
            "priority_group": group + 1, "priority_reason": PRIORITY_REASONS[group], "urgent": urgent,
            "prescribed_on": prescribed_on, "days_waiting": (today - prescribed_on).days,
            "assign_task_id": task_id,
        })
    return items


def counsellors(session: Session, platform_id: str, operator_id: str | None = None) -> list[User]:
    """The platform's active counsellors (those of one operator when `operator_id` is given)."""
    query = select(User).where(User.platform_id == platform_id, User.role == "counsellor",
                               User.active == True)  # noqa: E712
    if operator_id is not None:
        query = query.where(User.operator_id == operator_id)
    return list(session.exec(query.order_by(User.display_name, User.email)).all())


def _load(counsellor: User, caseload: int) -> dict[str, Any]:
    capacity = rules.r7_capacity(counsellor.fte)
    return {"id": counsellor.id, "name": counsellor.display_name or counsellor.email, "email": counsellor.email,
            "fte": counsellor.fte, "caseload": caseload, "capacity": capacity,
            "available": max(int(capacity) - caseload, 0), "full": caseload + 1 > capacity}


def _grouped(session: Session, query) -> dict[str, int]:
    return {key: int(count) for key, count in session.exec(query).all()}


def counsellor_loads(session: Session, platform_id: str, operator_id: str | None = None) -> list[dict[str, Any]]:
    """R7: each active counsellor's caseload (veille and ended journeys not counted) and capacity."""
    people = counsellors(session, platform_id, operator_id)
    caseloads = _grouped(session, select(Journey.counsellor_id, func.count())
                         .where(Journey.platform_id == platform_id, Journey.counsellor_id.is_not(None),
                                Journey.state.not_in(rules.NOT_IN_CASELOAD))
                         .group_by(Journey.counsellor_id))
    return [_load(counsellor, caseloads.get(counsellor.id, 0)) for counsellor in people]


def assignable(settings: Settings, user: User) -> list[dict[str, Any]]:
    """The counsellors a manager may designate, with their load: the choices of the "Attribuer" form
    (their operator's only, for a manager of an operator other than the chef de file)."""
    roles.check(user, roles.MANAGERS)
    with db_scope(settings) as session:
        return counsellor_loads(session, user.platform_id, operator_scope(session, user))


def team(settings: Settings, user: User) -> list[dict[str, Any]]:
    """One row per counsellor: FTE, caseload / capacity (R7), persons in veille, overdue tasks,
    quarterly interviews past due (R12), and their next deadlines."""
    roles.check(user, roles.MANAGERS)
    now = datetime.now(timezone.utc)
    today = now.date()
    platform = user.platform_id
    with db_scope(settings) as session:
        loads = counsellor_loads(session, platform, operator_scope(session, user))
        mine = Journey.platform_id == platform
        in_veille = _grouped(session, select(Journey.counsellor_id, func.count())
                             .where(mine, Journey.state == "veille").group_by(Journey.counsellor_id))
        interviews_late = _grouped(session, select(Journey.counsellor_id, func.count()).where(
            mine, Journey.next_interview_due < today, Journey.state.not_in(rules.NOT_IN_CASELOAD))
            .group_by(Journey.counsellor_id))
        overdue = _grouped(session, select(Task.assignee_id, func.count()).where(
            Task.platform_id == platform, Task.status == "open", Task.due_at < now,
            Task.assignee_id.is_not(None)).group_by(Task.assignee_id))
        upcoming = _next_deadlines(session, platform, [load["id"] for load in loads])
    for load in loads:
        load.update(veille=in_veille.get(load["id"], 0), interviews_overdue=interviews_late.get(load["id"], 0),
                    overdue_tasks=overdue.get(load["id"], 0), next_deadlines=upcoming.get(load["id"], []))
    return loads


def _next_deadlines(session: Session, platform_id: str, counsellor_ids: list[str]) -> dict[str, list[dict]]:
    """The soonest open tasks of each counsellor (a window function: one query for the whole team)."""
    if not counsellor_ids:
        return {}
    ranked = (select(Task.id, Task.assignee_id, Task.title, Task.due_at, Task.journey_id,
                     func.row_number().over(partition_by=Task.assignee_id, order_by=(Task.due_at, Task.id))
                     .label("position"))
              .where(Task.platform_id == platform_id, Task.status == "open", Task.due_at.is_not(None),
                     Task.assignee_id.in_(counsellor_ids))
              .subquery())
    rows = session.exec(select(ranked.c.id, ranked.c.assignee_id, ranked.c.title, ranked.c.due_at,
                               ranked.c.journey_id).where(ranked.c.position <= NEXT_DEADLINES)
                        .order_by(ranked.c.assignee_id, ranked.c.position)).all()
    found: dict[str, list[dict]] = defaultdict(list)
    for task_id, assignee, title, due_at, journey_id in rows:
        found[assignee].append({"task_id": task_id, "title": title, "due_at": aware(due_at), "journey_id": journey_id})
    return found


def caseload_of_counsellor(settings: Settings, user: User, counsellor_id: str) -> list[dict[str, Any]]:
    """The persons one counsellor follows (to change a person's counsellor from the team page)."""
    roles.check(user, roles.MANAGERS)
    with db_scope(settings) as session:
        rows = session.exec(select(Journey, Person).join(Person, Person.journey_id == Journey.id).where(
            journey_filter(user), Journey.counsellor_id == counsellor_id,
            Journey.state.not_in(tuple(CLOSED_STATES)))
            .order_by(Person.last_name, Person.first_name)).all()
    return [{"id": journey.id, "person": {"first_name": person.first_name, "last_name": person.last_name},
             "state": journey.state} for journey, person in rows]


def load_label(load: dict[str, Any]) -> str:
    """"Claire Martin — 12 / 20 personnes", the way a manager chooses a counsellor."""
    label = f"{load['name']} — {load['caseload']} / {load['capacity']:g} personne{'s' if load['capacity'] > 1 else ''}"
    return label + (" (complet)" if load["full"] else "")


def with_counsellor_choices(schema: dict[str, Any], loads: list[dict[str, Any]],
                            field: str = "counsellor_id") -> dict[str, Any]:
    """The schema whose counsellor field lists the platform's counsellors (their names and load), so
    that a form offers a choice instead of asking for an id. Capacity is still checked on completion
    (R7): a full counsellor stays listed, marked "complet", and is refused with the rule."""
    node = dict(schema["properties"][field])
    node["enum"] = [load["id"] for load in loads]
    node["oneOf"] = [{"const": load["id"], "title": load_label(load)} for load in loads]
    return {**schema, "properties": {**schema["properties"], field: node}}
