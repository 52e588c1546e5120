"""The convention's records (R10): versions rendered and stored with their hash, parties, signing
links, signatures, the frozen signed version. Each function runs in one transaction and is
idempotent by its key (a version number, a link's mail key, a signature id)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlmodel import Session, select

from eaflow.activities.projections import audit_once, load_journey
from eaflow.documents.render import render, sha256, to_pdf
from eaflow.documents import handover
from eaflow.settings import Settings
from eaflow.signing import make_token, signing_url, token_id_for
from eaflow.store.convention import (
    Convention,
    ConventionParty,
    ConventionVersion,
    Signature,
    SigningToken,
)
from eaflow.store.models import (
    AuditEvent,
    Journey,
    Person,
    Platform,
    User,
    aware,  # noqa: F401  (re-exported)
)
from eaflow.workflows.convention import AVENANT_LABELS
from eaflow.workflows.types import (
    ConventionDraft,
    ConventionFinal,
    ConventionVersionRef,
    PartyRef,
    PlatformSignature,
    SignatureAcceptance,
    SigningLinkRequest,
)

TITLE = "Convention individuelle d'accompagnement"
PLATFORM_LABEL = "la plateforme"
PERSON_LABELS = {"person": "la personne accompagnée",
                 "legal_representative": "le représentant légal de la personne accompagnée"}
SELF_EMPLOYED = ", également en qualité d'employeur (travailleur non salarié)"
EMPLOYER_LABEL = "l'employeur"
VIA_LABELS = {"link": "signature électronique par lien personnel", "task": "signature électronique dans eaflow",
              "paper": "signature manuscrite sur papier (scan conservé)"}


def convention_id_for(journey_id: str) -> str:
    return f"{journey_id}-cv"


def _name(user: User | None) -> str:
    return (user.display_name or user.email) if user else ""


def _parties(session: Session, settings: Settings, journey: Journey, person: Person | None,
             version_id: str, convention_id: str, outcome: dict[str, Any]) -> list[ConventionParty]:
    platform = session.get(Platform, journey.platform_id)
    signatory = outcome["person_signatory"]
    employer = outcome.get("employer")
    self_employed = bool(employer and employer.get("self_employed"))
    who = outcome.get("signs_for_person", "person")
    person_name = f"{person.first_name} {person.last_name}" if person else signatory["name"]
    common = {"version_id": version_id, "convention_id": convention_id}
    parties = [
        ConventionParty(id=f"{version_id}-platform", role="platform", label=PLATFORM_LABEL,
                        name=(platform.operator or platform.name) if platform else "la plateforme",
                        email=(platform.mailbox if platform else "") or settings.platform_mailbox, signs_by="task",
                        **common),
        ConventionParty(id=f"{version_id}-{who}", role=who,
                        label=PERSON_LABELS[who] + (SELF_EMPLOYED if self_employed else ""),
                        name=person_name if who == "person" else signatory["name"],
                        signatory_name=signatory["name"], signatory_quality=signatory.get("quality"),
                        email=signatory["email"], signs_by="link", **common),
    ]
    if employer and not self_employed:
        parties.append(ConventionParty(
            id=f"{version_id}-employer", role="employer", label=EMPLOYER_LABEL, name=employer["name"],
            signatory_name=employer["signatory"]["name"], signatory_quality=employer["signatory"].get("quality"),
            email=employer["signatory"]["email"], signs_by="link", **common))
    return parties


def _party_view(party: ConventionParty) -> dict[str, Any]:
    return {"role": party.role, "label": party.label, "name": party.name, "signatory_name": party.signatory_name,
            "signatory_quality": party.signatory_quality}


def document_context(session: Session, journey: Journey, version: ConventionVersion,
                     parties: list[ConventionParty]) -> dict[str, Any]:
    person = session.get(Person, journey.id)
    platform = session.get(Platform, journey.platform_id)
    counsellor = session.get(User, journey.counsellor_id) if journey.counsellor_id else None
    content = version.content
    return {
        "version": {"number": version.number, "kind": version.kind, "drafted_on": aware(version.created_at),
                    "content_hash": version.content_hash},
        "parties": [_party_view(p) for p in parties],
        "person": {"first_name": person.first_name if person else "", "last_name": person.last_name if person else "",
                   "birth_date": person.birth_date if person else None},
        "counsellor_name": _name(counsellor),
        "employer": content.get("employer"),
        "platform": {"name": platform.name if platform else "", "operator": platform.operator if platform else "",
                     "mailbox": platform.mailbox if platform else ""},
        "content": {"workplace_modalities": content["workplace_modalities"], "rhythm": content["rhythm"],
                    "objectives": content.get("objectives")},
        "avenant": content.get("avenant"),
    }


def _ref(version: ConventionVersion, parties: list[ConventionParty]) -> ConventionVersionRef:
    return ConventionVersionRef(
        convention_id=version.convention_id, version_id=version.id, number=version.number,
        content_hash=version.content_hash,
        parties=[PartyRef(id=p.id, role=p.role, signs_by=p.signs_by) for p in parties])


def parties_of(session: Session, version_id: str) -> list[ConventionParty]:
    order = {"platform": 0, "person": 1, "legal_representative": 1, "employer": 2}
    rows = session.exec(select(ConventionParty).where(ConventionParty.version_id == version_id)).all()
    return sorted(rows, key=lambda p: order.get(p.role, 9))


# R10: an avenant is signed again by the parties it concerns only.
AVENANT_PARTIES = {
    "employer": {"platform", "person", "legal_representative", "employer"},  # the new employer, not the former
    "legal_representative": {"platform", "legal_representative", "person"},
    "veille": {"platform", "person", "legal_representative", "employer"},
}
# What a draft_avenant outcome may replace in the convention in force.
AVENANT_FIELDS = ("workplace_modalities", "rhythm", "signs_for_person", "person_signatory", "employer")


def avenant_content(session: Session, convention: Convention, draft: ConventionDraft) -> dict[str, Any]:
    """The convention in force with the avenant's changes: what the parties concerned sign."""
    in_force = session.get(ConventionVersion, convention.signed_version_id) if convention.signed_version_id else None
    if in_force is None:
        raise LookupError(f"convention {convention.id} has no signed version to amend")
    content = {k: v for k, v in in_force.content.items() if k != "avenant"}
    content.update({k: draft.outcome[k] for k in AVENANT_FIELDS if draft.outcome.get(k) is not None})
    content["avenant"] = {"kind": draft.avenant.kind, "label": AVENANT_LABELS[draft.avenant.kind],
                          "changes": draft.outcome["changes"], "amends_version": in_force.number,
                          "reference": draft.avenant.reference}
    return content


def create_version(session: Session, settings: Settings, draft: ConventionDraft) -> ConventionVersionRef:
    journey = load_journey(session, draft.journey_id)
    convention_id = convention_id_for(journey.id)
    version_id = f"{convention_id}-v{draft.number}"
    existing = session.get(ConventionVersion, version_id)
    if existing is not None:  # a retried activity
        return _ref(existing, parties_of(session, version_id))
    convention = session.get(Convention, convention_id)
    if convention is None:
        convention = Convention(id=convention_id, journey_id=journey.id)
        session.add(convention)
        session.flush()
    previous = session.get(ConventionVersion, convention.current_version_id) if convention.current_version_id else None
    if previous is not None and previous.status != "signed":  # supersede, don't mutate
        previous.superseded_at = draft.at
        if previous.status == "signing":
            previous.status = "superseded"
        session.add(previous)
    person = session.get(Person, journey.id)
    content, kind = draft.outcome, "initial" if draft.number == 1 else "redraft"
    if draft.avenant is not None:
        content, kind = avenant_content(session, convention, draft), "avenant"
    parties = _parties(session, settings, journey, person, version_id, convention_id, content)
    if draft.avenant is not None:
        parties = [p for p in parties if p.role in AVENANT_PARTIES[draft.avenant.kind]]
    version = ConventionVersion(
        id=version_id, convention_id=convention_id, number=draft.number,
        kind=kind, status="signing", content=content,
        html="", pdf=b"", content_hash="", drafted_by=draft.drafted_by, created_at=draft.at)
    html = render("convention.html.j2", **document_context(session, journey, version, parties))
    version.html, version.content_hash = html, sha256(html)
    version.pdf = to_pdf([html], title=TITLE, created=aware(draft.at))
    session.add(version)
    session.flush()
    for party in parties:
        session.add(party)
    convention.status, convention.current_version_id = "signing", version_id
    convention.updated_at = datetime.now(timezone.utc)
    session.add(convention)
    audit_once(session, AuditEvent(
        journey_id=journey.id, at=draft.at, actor_kind="user" if draft.drafted_by else "system",
        actor_id=draft.drafted_by, action="convention_drafted",
        detail={"rule": "R10", "version": draft.number, "content_hash": version.content_hash,
                "parties": [p.role for p in parties], "task_id": draft.task_id},
        step_key=f"{journey.id}/convention/v{draft.number}/drafted"))
    return _ref(version, parties)


def signing_link(session: Session, settings: Settings, secret: bytes,
                 request: SigningLinkRequest) -> tuple[str, dict[str, Any]] | None:
    """(address, mail parameters) of a party's link, its token row written once; None when the
    party has answered or the version is no longer the one to sign (nothing to send)."""
    party = session.get(ConventionParty, request.party_id)
    version = session.get(ConventionVersion, request.version_id)
    if party is None or version is None:
        raise LookupError(f"party {request.party_id} of version {request.version_id} is not in the database")
    convention = session.get(Convention, version.convention_id)
    if (party.signed_at or party.refused_at or version.status != "signing" or not party.email
            or convention.current_version_id != version.id):
        return None
    token_id = token_id_for(request.key)
    token = session.get(SigningToken, token_id)
    if token is None:
        token = SigningToken(id=token_id, key=request.key, convention_id=version.convention_id, version_id=version.id,
                             party_id=party.id, issued_at=request.issued_at, expires_at=request.expires_at)
        session.add(token)
    journey = load_journey(session, request.journey_id)
    platform = session.get(Platform, journey.platform_id)
    counsellor = session.get(User, journey.counsellor_id) if journey.counsellor_id else None
    url = signing_url(settings, version.convention_id, make_token(secret, version.convention_id, token_id,
                                                                  aware(token.expires_at)))
    params = {"recipient_name": party.signatory_name or party.name, "sign_url": url,
              "expires_on": aware(token.expires_at), "version_number": version.number,
              "counsellor_name": _name(counsellor), "platform_name": platform.name if platform else ""}
    if request.reminder_number:
        params["reminder_number"] = request.reminder_number
    return party.email, params


def _answered(session: Session, signature: Signature) -> None:
    party = session.get(ConventionParty, signature.party_id)
    if signature.decision == "signed":
        party.signed_at = signature.at
    else:
        party.refused_at = signature.at
        version = session.get(ConventionVersion, signature.version_id)
        version.status = "refused"
        session.add(version)
        convention = session.get(Convention, signature.convention_id)
        convention.status, convention.updated_at = "refused", datetime.now(timezone.utc)
        session.add(convention)
    session.add(party)
    version = session.get(ConventionVersion, signature.version_id)
    journey_id = session.get(Convention, signature.convention_id).journey_id
    detail = {"rule": "R10", "version": version.number, "party": party.role, "decision": signature.decision,
              "via": signature.via, "signature_id": signature.id}
    if signature.reason:
        detail["reason"] = signature.reason
    audit_once(session, AuditEvent(
        journey_id=journey_id, at=signature.at, actor_kind="user" if signature.user_id else "link",
        actor_id=signature.user_id, action="convention_signed_by_party" if signature.decision == "signed"
        else "convention_refused_by_party", detail=detail, step_key=f"signature/{signature.id}"))


def accept_signature(session: Session, acceptance: SignatureAcceptance) -> None:
    signature = session.exec(select(Signature).where(Signature.id == acceptance.signature_id).with_for_update()).first()
    if signature is None:
        raise LookupError(f"signature {acceptance.signature_id} is not in the database")
    if signature.status == "accepted":
        return
    signature.status = "accepted"
    session.add(signature)
    session.flush()  # the partial unique index refuses a second accepted answer of the party
    _answered(session, signature)


def record_platform_signature(session: Session, record: PlatformSignature) -> None:
    if session.get(Signature, record.signature_id) is not None:
        return
    user = session.get(User, record.user_id)
    version = session.get(ConventionVersion, record.version_id)
    signature = Signature(
        id=record.signature_id, convention_id=version.convention_id, version_id=version.id,
        party_id=record.party_id, decision=record.decision, status="accepted", reason=record.reason,
        signer_name=_name(user), via="task", user_id=record.user_id, at=record.at)
    session.add(signature)
    party = session.get(ConventionParty, record.party_id)
    if record.decision == "signed" and user is not None:
        party.signatory_name = _name(user)
        party.signatory_quality = "responsable de la plateforme"
    session.flush()
    _answered(session, signature)


def signatures_of(session: Session, version_id: str) -> list[Signature]:
    return list(session.exec(select(Signature).where(Signature.version_id == version_id)
                             .order_by(Signature.at)).all())


def finalize(session: Session, final: ConventionFinal) -> str:
    """Freeze the signed version: the PDF with its signature page, and that PDF's hash."""
    version = session.get(ConventionVersion, final.version_id)
    if version.status == "signed" and version.signed_pdf_hash:
        return version.signed_pdf_hash
    convention = session.get(Convention, version.convention_id)
    journey = load_journey(session, convention.journey_id)
    parties = {p.id: p for p in parties_of(session, version.id)}
    rows = [{"label": parties[s.party_id].label, "signer_name": s.signer_name, "at": aware(s.at),
             "via_label": VIA_LABELS.get(s.via, s.via)}
            for s in signatures_of(session, version.id) if s.status == "accepted" and s.decision == "signed"]
    signatures_html = render("signatures.html.j2", version={"number": version.number,
                                                            "content_hash": version.content_hash}, signatures=rows)
    version.signed_pdf = to_pdf([version.html, signatures_html], title=TITLE, created=aware(final.at))
    version.signed_pdf_hash = sha256(version.signed_pdf)
    version.status, version.signed_at = "signed", final.at
    session.add(version)
    replaced = session.get(ConventionVersion, convention.signed_version_id) if convention.signed_version_id else None
    if replaced is not None and replaced.id != version.id:  # an avenant: the former text stays readable
        replaced.superseded_at = final.at
        session.add(replaced)
    convention.status, convention.signed_version_id = "signed", version.id
    convention.signed_on, convention.updated_at = aware(final.at).date(), datetime.now(timezone.utc)
    session.add(convention)
    audit_once(session, AuditEvent(
        journey_id=journey.id, at=final.at, actor_kind="system", action="convention_frozen",
        detail={"rule": "R10", "version": version.number, "content_hash": version.content_hash,
                "signed_pdf_hash": version.signed_pdf_hash},
        step_key=f"{journey.id}/convention/v{version.number}/frozen"))
    return version.signed_pdf_hash


def attachment(session: Session, reference: str) -> tuple[str, str, bytes] | None:
    """(file name, content type, bytes) of a document named in a notification; None for a
    "convention-of:<journey>" when the journey has no signed convention (nothing to attach)."""
    kind, _, ident = reference.partition(":")
    if kind == "handover":  # R15: the summary of a file handed over after a move
        return handover.summary_pdf(session, ident)
    if kind == "convention-of":
        return handover.signed_convention_pdf(session, ident)
    if kind == "convention":
        version = session.get(ConventionVersion, ident)
        if version is None:
            raise LookupError(f"convention version {ident} is not in the database")
        data = version.signed_pdf or version.pdf
        suffix = "signee" if version.signed_pdf else "projet"
        return f"convention-accompagnement-v{version.number}-{suffix}.pdf", "application/pdf", data
    raise ValueError(f"unknown attachment {reference!r}")
