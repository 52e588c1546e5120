"""R22, GDPR art. 15 (right of access): the person's whole file, in French, to hand over — as JSON or
as a PDF. One service for `eaflow person export` and the file page's "Exporter le dossier (RGPD)".

Who: the platform's managers (R22, need to know: the manager answers the person's request for the
platform; a counsellor follows the file, an administrator manages accounts, neither hands it over).
A journey the manager may not see is a 404, as everywhere.

What: identity, prescription, eligibility and rights, the shared evaluation, the convention(s) and
avenants, contacts, employment, veille, exit, the tasks done, the history of the steps and, from
the audit trail, who read the file and when. The export is itself a read of the file: it is traced
(`person_exported`), in the transaction that gathers it, before it is returned.

The French labels of the history's steps come from the caller (`labels`): they live with the pages
(web/timeline.py), which a service does not import.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any, Mapping

from fastapi.encoders import jsonable_encoder
from sqlmodel import Session, select

from eaflow import profile
from eaflow.activities.notify import CHANNEL_LABELS, SITUATION_LABELS
from eaflow.documents.render import datetime_fr, render, to_pdf
from eaflow.employment import CONTRACT_LABELS, END_REASONS
from eaflow.indicators import EMPLOYER_TYPE_LABELS
from eaflow.notifications.registry import date_fr
from eaflow.services import roles
from eaflow.services.access import READ_ACTIONS, audit_read, visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.rights import journey_rights
from eaflow.services.views import names_of
from eaflow.settings import Settings
from eaflow.store.accompaniment import Contact, EmploymentEpisode
from eaflow.store.convention import Convention, ConventionParty, ConventionVersion, Signature
from eaflow.store.models import AuditEvent, ExitProcedure, Journey, Person, Platform, SharedEvaluation, Task, User, aware
from eaflow.workflows import rules, transitions
from eaflow.workflows.task_kinds import ContactFields

ACTION = "person_exported"
FORMATS = ("json", "pdf")
TITLE = "Dossier de la personne accompagnée (RGPD, article 15)"
_EVALUATION_HIDDEN = ("journey_id", "recorded_by")


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_HIDDEN_IN_PDF = frozenset({"id", "task_id", "episode_id"})


@lru_cache(maxsize=1)
def _value_labels() -> dict[str, dict[str, str]]:
    """The French words of the closed lists the file holds, by the key they sit under."""
    defs = ContactFields.model_json_schema().get("$defs", {})

    def choices(name: str) -> dict[str, str]:
        return {o["const"]: o["title"] for o in defs.get(name, {}).get("oneOf", [])}

    contact = {"place": choices("ContactPlace"), "participants": choices("ContactParticipants")}
    contact_channels = choices("ContactChannel")
    employer_types = dict(EMPLOYER_TYPE_LABELS)
    # The profile at entry and the employers' categories (eaflow.profile: R20's closed lists).
    profiled = {key: dict(getattr(profile, table, {})) for key, table in (
        ("disability_nature", "DISABILITY_NATURES"), ("education_level", "EDUCATION_LEVELS"),
        ("status_at_entry", "STATUSES_AT_ENTRY"), ("medico_social_support", "MEDICO_SOCIAL_SUPPORTS"),
        ("employer_naf_section", "NAF_SECTIONS"), ("employer_size_band", "SIZE_BANDS"))}
    return {**contact, **profiled, "channel": {**contact_channels, **CHANNEL_LABELS}, "situation": SITUATION_LABELS,
            "contract_type": CONTRACT_LABELS, "end_reason": {k: r.label for k, r in END_REASONS.items()},
            "employer_type": employer_types, "reason": dict(rules.EXIT_REASONS),
            "kind": {**employer_types, "initial": "version initiale", "redraft": "nouvelle rédaction",
                     "avenant": "avenant"},
            "status": {"signing": "en signature", "refused": "refusée", "superseded": "remplacée", "signed": "signée",
                       "open": "en cours", "approved": "approuvée", "rejected": "rejetée", "withdrawn": "retirée",
                       "pending": "en attente", "accepted": "acceptée"}}


def for_reading(value: Any, key: str | None = None) -> Any:
    """The JSON file as a person reads it: dates in French, codes of closed lists in words, no ids."""
    if isinstance(value, dict):
        return {k: for_reading(v, k) for k, v in value.items() if k not in _HIDDEN_IN_PDF}
    if isinstance(value, list):
        return [for_reading(v, key) for v in value]
    if isinstance(value, str):
        if _DATETIME.match(value):
            return datetime_fr(value)
        if _DATE.match(value):
            return date_fr(value)
        return _value_labels().get(key or "", {}).get(value, value)
    return value


@dataclass(frozen=True)
class Export:
    content: bytes
    media_type: str
    filename: str


def _row(model: Any, *hidden: str) -> dict[str, Any]:
    """A row's fields in the order the model declares them (what the database loads comes unordered)."""
    return {key: getattr(model, key) for key in type(model).model_fields if key not in hidden}


def _user_name(names: Mapping[str, str], user_id: str | None) -> str | None:
    return names.get(user_id, user_id) if user_id else None


def gather(session: Session, journey: Journey, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The file as plain data (JSON-ready once encoded); the caller checked who may read it."""
    labels = labels or {}
    person = session.get(Person, journey.id)
    events = session.exec(select(AuditEvent).where(AuditEvent.journey_id == journey.id)
                          .order_by(AuditEvent.at, AuditEvent.id)).all()
    tasks = session.exec(select(Task).where(Task.journey_id == journey.id, Task.status == "done")
                         .order_by(Task.completed_at, Task.id)).all()
    contacts = session.exec(select(Contact).where(Contact.journey_id == journey.id)
                            .order_by(Contact.occurred_on, Contact.recorded_at)).all()
    actors = ({e.actor_id for e in events} | {t.completed_by for t in tasks} | {c.recorded_by for c in contacts}
              | {journey.counsellor_id, journey.prescriber_id}) - {None}
    names = names_of(session, actors)
    roles_of = dict(session.exec(select(User.id, User.role).where(User.id.in_(actors))).all()) if actors else {}
    platform = session.get(Platform, journey.platform_id)

    def event_view(e: AuditEvent) -> dict[str, Any]:
        return {"at": aware(e.at), "action": e.action, "label": labels.get(e.action, e.action.replace("_", " ")),
                "by": _user_name(names, e.actor_id) or {"timer": "échéance automatique", "system": "eaflow",
                                                          "link": "lien personnel"}.get(e.actor_kind, e.actor_kind),
                "role": roles_of.get(e.actor_id)}

    return {
        "title": TITLE, "journey_id": journey.id, "exported_at": datetime.now(timezone.utc),
        "platform": {"name": platform.name, "department": platform.department} if platform else None,
        "state": {"code": journey.state, "label": transitions.label(journey.state)},
        "identity": (_row(person, "journey_id", "search_name") if person else None),
        "prescription": {
            "prescribed_on": journey.prescribed_on, "channel": journey.channel, "situation": journey.situation,
            "urgent": journey.urgent, "prescriber": _user_name(names, journey.prescriber_id),
            "subsidiarity_reason": journey.subsidiarity_reason, "other_support": journey.other_support,
            "other_support_justification": journey.other_support_justification,
            "cdaph_informed_on": journey.cdaph_informed_on, "cdaph_informed_how": journey.cdaph_informed_how,
            "refusal": journey.refusal, "transferred_from": journey.transferred_from},
        "eligibility": {"admitted_on": journey.admitted_on, "admission_delay_days": journey.admission_delay_days,
                        "counsellor": _user_name(names, journey.counsellor_id)},
        "rights": journey_rights(session, journey),
        "evaluation": _evaluation(session, journey),
        "conventions": _conventions(session, journey),
        "contacts": [{**_row(c, "journey_id", "task_id", "recorded_by", "updated_by", "deleted_by"),
                      "recorded_by": _user_name(names, c.recorded_by)} for c in contacts],
        "employment": [_row(e, "journey_id", "opened_by", "closed_by") for e in session.exec(
            select(EmploymentEpisode).where(EmploymentEpisode.journey_id == journey.id)
            .order_by(EmploymentEpisode.started_on, EmploymentEpisode.id)).all()],
        "veille": {"in_veille": journey.state == "veille", "until": journey.veille_until,
                   "steps": [event_view(e) for e in events if e.action.startswith("veille_")]},
        "exit": {"reason": journey.exit_reason,
                 "label": rules.EXIT_REASONS.get(journey.exit_reason, journey.exit_reason) if journey.exit_reason else None,
                 "on": journey.exited_on,
                 "procedures": [_row(p, "journey_id", "opened_by", "closed_by") for p in session.exec(
                     select(ExitProcedure).where(ExitProcedure.journey_id == journey.id)
                     .order_by(ExitProcedure.opened_at)).all()]},
        "tasks_done": [{"title": t.title, "kind": t.kind, "completed_at": aware(t.completed_at),
                        "completed_by": _user_name(names, t.completed_by), "outcome": t.outcome} for t in tasks],
        "history": [event_view(e) for e in events if e.action not in READ_ACTIONS],
        "reads": [event_view(e) for e in events if e.action in READ_ACTIONS],
    }


def _evaluation(session: Session, journey: Journey) -> dict[str, Any] | None:
    evaluation = session.get(SharedEvaluation, journey.id)
    return _row(evaluation, *_EVALUATION_HIDDEN) if evaluation else None


def _conventions(session: Session, journey: Journey) -> list[dict[str, Any]]:
    """Each version (initial, re-drafts, avenants) with its parties and their answers; not the PDFs
    (the person gets them from the platform, as signed), but their hashes."""
    convention = session.exec(select(Convention).where(Convention.journey_id == journey.id)).first()
    if convention is None:
        return []
    versions = session.exec(select(ConventionVersion).where(ConventionVersion.convention_id == convention.id)
                            .order_by(ConventionVersion.number)).all()
    parties = session.exec(select(ConventionParty).where(ConventionParty.convention_id == convention.id)).all()
    signatures = session.exec(select(Signature).where(Signature.convention_id == convention.id)
                              .order_by(Signature.at)).all()
    return [{
        "number": v.number, "kind": v.kind, "status": v.status, "created_at": aware(v.created_at),
        "signed_at": aware(v.signed_at), "content": v.content, "signed_pdf_sha256": v.signed_pdf_hash,
        "parties": [{"role": p.role, "label": p.label, "name": p.name, "signatory_name": p.signatory_name,
                     "email": p.email, "signed_at": aware(p.signed_at), "refused_at": aware(p.refused_at)}
                    for p in parties if p.version_id == v.id],
        "signatures": [{"decision": s.decision, "status": s.status, "signer_name": s.signer_name, "via": s.via,
                        "at": aware(s.at), "reason": s.reason} for s in signatures if s.version_id == v.id],
    } for v in versions]


def export_file(settings: Settings, user: User, journey_id: str, format: str = "pdf",
                labels: Mapping[str, str] | None = None) -> Export:
    """The file of `journey_id` in `format` (json | pdf), for a manager who may see it; traced."""
    roles.check(user, roles.MANAGERS)
    if format not in FORMATS:
        raise Refusal(422, "Format d'export inconnu.", errors=[{"field": "format", "message": "pdf ou json"}])
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        audit_read(session, journey.id, user, ACTION, {"rule": "R22", "format": format})
        session.flush()
        data = jsonable_encoder(gather(session, journey, labels))
    stem = f"dossier-{journey.id}-{date.today().isoformat()}"
    if format == "json":
        return Export(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"),
                      "application/json", f"{stem}.json")
    html = render("person_export.html.j2", file=for_reading(data))
    return Export(to_pdf([html], title=TITLE, created=datetime.now(timezone.utc)), "application/pdf", f"{stem}.pdf")
