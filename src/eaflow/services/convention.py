"""The convention individuelle of a journey (R10) as people read it: status, parties, signatures and
every version, the document itself (HTML, PDF), and what the convention's tasks show (the draft
prefilled from the file, the refusal that sent it back)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from eaflow import employment
from eaflow.activities.convention import TITLE, aware, parties_of, signatures_of
from eaflow.documents.render import page
from eaflow.services.access import audit_read, visible_journey
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store import employment as employment_store
from eaflow.store.convention import (
    Convention,
    ConventionParty,
    ConventionVersion,
    Signature,
)
from eaflow.store.models import Journey, Person, SharedEvaluation, Task, User


def convention_of(session: Session, journey_id: str) -> Convention | None:
    return session.exec(select(Convention).where(Convention.journey_id == journey_id)).first()


def journey_convention(session: Session, journey: Journey) -> dict[str, Any] | None:
    """The `convention` field of the journey resource: {status, signed_on, version}."""
    convention = convention_of(session, journey.id)
    if convention is None:
        return {"status": "drafting", "signed_on": None, "version": None} if journey.state == "convention" else None
    version = session.get(ConventionVersion, convention.current_version_id) if convention.current_version_id else None
    if convention.signed_version_id:  # signed and in force, even while an avenant is being signed
        view = {"status": "signed", "signed_on": convention.signed_on,
                "version": _number(session, convention.signed_version_id), "avenant": None}
        if version is not None and version.id != convention.signed_version_id and version.status != "signed":
            view["avenant"] = {"version": version.number, "status": version.status,
                               "kind": (version.content.get("avenant") or {}).get("kind")}
        return view
    status = "drafting" if convention.status == "refused" and journey.state == "convention" else convention.status
    return {"status": status, "signed_on": convention.signed_on, "version": version.number if version else None}


def _signature_view(signature: Signature, party: ConventionParty | None, base: str) -> dict[str, Any]:
    return {"id": signature.id, "party_id": signature.party_id, "role": party.role if party else None,
            "decision": signature.decision, "status": signature.status, "reason": signature.reason,
            "signer_name": signature.signer_name, "via": signature.via, "user_id": signature.user_id,
            "at": aware(signature.at), "ip": signature.ip, "user_agent": signature.user_agent,
            # a paper signature is written with its scan, in one transaction (api/paper_signatures.py)
            "scan_url": f"{base}/convention/signatures/{signature.id}/scan" if signature.via == "paper" else None}


def version_view(session: Session, version: ConventionVersion, journey_id: str) -> dict[str, Any]:
    parties = parties_of(session, version.id)
    by_id = {p.id: p for p in parties}
    base = f"/api/v1/journeys/{journey_id}"
    return {
        "number": version.number, "kind": version.kind, "status": version.status,
        "content": version.content, "content_hash": version.content_hash,
        "signed_pdf_hash": version.signed_pdf_hash, "drafted_by": version.drafted_by,
        "created_at": aware(version.created_at), "superseded_at": aware(version.superseded_at),
        "signed_at": aware(version.signed_at),
        "parties": [{"id": p.id, "role": p.role, "label": p.label, "name": p.name,
                     "signatory_name": p.signatory_name, "signatory_quality": p.signatory_quality,
                     "email": p.email, "signs_by": p.signs_by, "signed_at": aware(p.signed_at),
                     "refused_at": aware(p.refused_at)} for p in parties],
        "signatures": [_signature_view(s, by_id.get(s.party_id), base) for s in signatures_of(session, version.id)
                       if s.status != "rejected"],
        "html_url": f"{base}/convention.html?version={version.number}",
        "pdf_url": f"{base}/convention.pdf?version={version.number}",
    }


def _versions(session: Session, convention: Convention) -> list[ConventionVersion]:
    return list(session.exec(select(ConventionVersion).where(ConventionVersion.convention_id == convention.id)
                             .order_by(ConventionVersion.number)).all())


def _version(session: Session, journey_id: str, number: int | None) -> tuple[Convention, ConventionVersion]:
    convention = convention_of(session, journey_id)
    if convention is None or convention.current_version_id is None:
        raise Refusal(404, "La convention de ce parcours n'est pas encore rédigée.")
    if number is None:
        version = session.get(ConventionVersion, convention.signed_version_id or convention.current_version_id)
    else:
        version = session.exec(select(ConventionVersion).where(
            ConventionVersion.convention_id == convention.id, ConventionVersion.number == number)).first()
    if version is None:
        raise Refusal(404, "Cette version de la convention n'existe pas.")
    return convention, version


def _number(session: Session, version_id: str | None) -> int | None:
    version = session.get(ConventionVersion, version_id) if version_id else None
    return version.number if version else None


def read_convention(settings: Settings, user: User, journey_id: str) -> dict[str, Any]:
    """The convention with every version; the read is traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        convention = convention_of(session, journey.id)
        audit_read(session, journey.id, user, "convention_read")
        if convention is None:
            return {"journey_id": journey.id, "status": "drafting" if journey.state == "convention" else "none",
                    "signed_on": None, "current_version": None, "signed_version": None, "parties": [],
                    "signatures": [], "versions": []}
        versions = [version_view(session, v, journey.id) for v in _versions(session, convention)]
        current = next((v for v in versions if v["number"] == _number(session, convention.current_version_id)), None)
        signed = next((v for v in versions if v["number"] == _number(session, convention.signed_version_id)), None)
        return {"journey_id": journey.id, "status": journey_convention(session, journey)["status"],
                "signed_on": convention.signed_on,
                "current_version": current["number"] if current else None,
                "signed_version": signed["number"] if signed else None,
                "parties": current["parties"] if current else [],
                "signatures": current["signatures"] if current else [],
                "versions": versions}


@dataclass(frozen=True)
class ConventionDocument:
    number: int
    html: str
    pdf: bytes
    signed: bool

    @property
    def page(self) -> str:
        return page(f"{TITLE} — version {self.number}", self.html)

    @property
    def pdf_name(self) -> str:
        return f"convention-v{self.number}{'-signee' if self.signed else ''}.pdf"


def convention_document(settings: Settings, user: User, journey_id: str, number: int | None) -> ConventionDocument:
    """One version of the convention (the one in force by default), as HTML and PDF (the frozen signed
    copy once signed); the read is traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        _, row = _version(session, journey.id, number)
        audit_read(session, journey.id, user, "convention_read")
        return ConventionDocument(number=row.number, html=row.html, pdf=row.signed_pdf or row.pdf,
                                  signed=bool(row.signed_pdf))


def draft_prefill(session: Session, journey_id: str) -> dict[str, Any]:
    """What the draft form starts from: the last version (a re-draft), else the journey's file."""
    convention = convention_of(session, journey_id)
    if convention is not None and convention.current_version_id:
        return dict(session.get(ConventionVersion, convention.current_version_id).content)
    person = session.get(Person, journey_id)
    evaluation = session.get(SharedEvaluation, journey_id)
    representative = (person.legal_representative or None) if person else None
    employer = (person.employer or None) if person else None
    job = _open_job(session, journey_id)
    if job is not None and not (employer and employment.same_employer_key(employer.get("name") or "")
                                == employment.same_employer_key(job.employer_name)):
        employer = {"name": job.employer_name, "kind": job.employer_type}  # R10: the job of the file, since intake
    prefill: dict[str, Any] = {
        "workplace_modalities": "", "rhythm": "",
        "objectives": (f"Souhaits de la personne : {evaluation.wishes}\nBesoins identifiés : {evaluation.needs}"
                       if evaluation else None),
        "signs_for_person": "legal_representative" if representative else "person",
        "person_signatory": (
            {"name": representative.get("name", ""), "email": representative.get("email"),
             "quality": representative.get("kind")} if representative else
            {"name": f"{person.first_name} {person.last_name}" if person else "",
             "email": person.email if person else None, "quality": None}),
        "employer": None,
    }
    if employer:
        if employer.get("kind") == "self_employed":
            prefill["employer"] = {"name": employer.get("name", ""), "self_employed": True, "signatory": None}
        else:
            prefill["employer"] = {"name": employer.get("name", ""), "self_employed": False, "signatory": {
                "name": employer.get("contact_name") or "", "email": employer.get("email"), "quality": None}}
    return prefill


def _open_job(session: Session, journey_id: str):
    """The open employment episode (R16; a PMSMP or an internship is not a job) that started last, or None."""
    return employment.current([e for e in employment_store.episodes_of(session, journey_id)
                               if employment.is_employment(e)])


def draft_facts(session: Session, journey_id: str) -> dict[str, Any]:
    """What the journey's validator of a convention draft needs from the file (R10): whether the person is
    in employment now, by the employment episodes recorded (None when none was: the situation at intake
    decides)."""
    jobs = [e for e in employment_store.episodes_of(session, journey_id) if employment.is_employment(e)]
    return {"employed_now": any(e.ended_on is None for e in jobs) if jobs else None}


def task_extras(session: Session, task: Task) -> dict[str, Any]:
    """`prefill` and `context` of the convention's tasks (empty for other kinds)."""
    if task.kind not in ("draft_convention", "sign_convention", "convention_follow_up", "draft_avenant"):
        return {}
    convention = convention_of(session, task.journey_id)
    base = f"/api/v1/journeys/{task.journey_id}"
    context: dict[str, Any] = {"convention_url": f"{base}/convention"}
    current = session.get(ConventionVersion, convention.current_version_id) if convention and \
        convention.current_version_id else None
    if current is not None:
        context.update(version=current.number, html_url=f"{base}/convention.html?version={current.number}",
                       pdf_url=f"{base}/convention.pdf?version={current.number}")
    if task.kind == "draft_convention" and current is not None and current.status == "refused":
        refusal = session.exec(select(Signature).where(
            Signature.version_id == current.id, Signature.decision == "refused",
            Signature.status == "accepted")).first()
        if refusal is not None:
            party = session.get(ConventionParty, refusal.party_id)
            context["refusal"] = {"version": current.number, "role": party.role if party else None,
                                  "by": party.label if party else None, "signer_name": refusal.signer_name,
                                  "reason": refusal.reason, "at": aware(refusal.at)}
    context.update(task.context or {})
    extras: dict[str, Any] = {"context": context}
    if task.kind == "draft_convention" and task.status == "open":
        extras["prefill"] = draft_prefill(session, task.journey_id)
    if task.kind == "draft_avenant" and task.status == "open":
        extras["prefill"] = avenant_prefill(session, task.journey_id)
    return extras


def avenant_prefill(session: Session, journey_id: str) -> dict[str, Any]:
    """An avenant starts from the convention in force: what changes is written, the rest stays."""
    convention = convention_of(session, journey_id)
    in_force = session.get(ConventionVersion, convention.signed_version_id) if convention else None
    content = in_force.content if in_force else {}
    return {"changes": "", **{k: content.get(k) for k in ("workplace_modalities", "rhythm", "signs_for_person",
                                                         "person_signatory", "employer")}}
