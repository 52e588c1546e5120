"""Answers to the convention (R10) by a party outside the platform: the link's answer
(`submit_answer`, used by the public signing pages) and the paper signature recorded by the counsellor
with the scan of the signed document.

A paper signature (`POST /api/v1/journeys/{id}/convention/paper-signatures`, or the person's page) is
the paper counterpart of the personal link: the journey's counsellor or a manager of its platform
gives the version, the party, the signer's name, the date written on the paper, the decision (and the
reason of a refusal) and the scan. The scan's type is read from its first bytes, never from what the
client declares (PDF, JPEG or PNG, else 415); an empty scan or an invalid field is a 422. Nothing is
written until every check has passed.

Then the `Signature` (pending, via "paper") and its `SignatureScan` are written in one transaction
and sent to the journey exactly as the signing page sends a link's answer (`submit_answer`): the
journey checks the version is the current one, that the party signs outside the platform and has not
answered; if it refuses, the row is marked rejected and its problem (409/404) returned.

The signature's time (`at`) is the date written on the paper at noon, Paris time, kept between the
moment the version was sent and the upload: the attestation of the signed PDF and the history show
the day the party signed, never a moment before the version existed nor in the future. The upload's
own time is the scan's `uploaded_at`.

`GET …/convention/signatures/{signature_id}/scan` gives the scan back; every read is traced (R22).
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, time, timezone
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from sqlalchemy import update
from sqlmodel import Session, select
from temporalio.client import Client

from eaflow.activities.convention import aware
from eaflow.services.access import visible_journey
from eaflow.services.convention import convention_of
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.services.workflow_calls import call_workflow
from eaflow.settings import Settings
from eaflow.store.convention import (
    ConventionParty,
    ConventionVersion,
    Signature,
    SignatureScan,
    SigningToken,
)
from eaflow.store.models import AuditEvent, User
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import SignatureIn
from eaflow.workflows import plausibility

MAX_SCAN_BYTES = 10 * 1024 * 1024  # 10 MiB: a few scanned pages
MAX_FIELD_BYTES = 8 * 1024  # a text field (the reason: 2,000 characters)
MAX_NAME, MAX_REASON = 200, 2000

# The scan's type, read from its first bytes ("magic numbers"): (signature, content type, extension).
SCAN_TYPES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
EXTENSIONS = {content_type: extension for _, content_type, extension in SCAN_TYPES}


def _paris():
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Paris")
    except Exception:  # noqa: BLE001 - no tz database: UTC is still the right day most of the time
        return timezone.utc


PARIS = _paris()


def too_big() -> Refusal:
    return Refusal(413, f"Le scan dépasse la taille maximale de {MAX_SCAN_BYTES // (1024 * 1024)} Mo.",
                   errors=[{"field": "scan", "message": "Fichier trop volumineux : réduisez la résolution du scan "
                                                        "ou envoyez-le en PDF compressé."}])


def _invalid(field: str, message: str, status: int = 422) -> Refusal:
    return Refusal(status, "La requête contient des champs invalides.", errors=[{"field": field, "message": message}])


def scan_type(data: bytes) -> str | None:
    """The scan's content type from its first bytes (PDF, JPEG, PNG), or None."""
    return next((content_type for magic, content_type, _ in SCAN_TYPES if data.startswith(magic)), None)


# ---------------------------------------------------------------------- checking the fields

def paris_today() -> date:
    return datetime.now(PARIS).date()


def parse_fields(fields: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The answer's fields, and the French message of each invalid one."""
    errors: list[dict[str, str]] = []
    value: dict[str, Any] = {}

    def error(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    raw = fields.get("version", "").strip()
    if not raw.isdigit() or int(raw) < 1:
        error("version", "Indiquez le numéro de la version signée (un entier à partir de 1).")
    else:
        value["version"] = int(raw)
    value["party_id"] = fields.get("party_id", "").strip()
    if not value["party_id"] or len(value["party_id"]) > MAX_NAME:
        error("party_id", "Indiquez la partie qui a signé (l'identifiant d'une partie de la convention).")
    value["signer_name"] = " ".join(fields.get("signer_name", "").split())
    if not value["signer_name"]:
        error("signer_name", "Indiquez les nom et prénom de la personne qui a signé.")
    elif len(value["signer_name"]) > MAX_NAME:
        error("signer_name", f"Le nom du signataire dépasse {MAX_NAME} caractères.")
    elif message := plausibility.name(value["signer_name"]):
        error("signer_name", message)
    try:
        value["signed_on"] = date.fromisoformat(fields.get("signed_on", "").strip())
        if message := plausibility.past_event(value["signed_on"], None, paris_today(), "La date de signature"):
            error("signed_on", message)
    except ValueError:
        error("signed_on", "Indiquez la date de signature portée sur le document (AAAA-MM-JJ).")
    value["decision"] = fields.get("decision", "").strip() or "signed"
    if value["decision"] not in ("signed", "refused"):
        error("decision", "La décision est « signed » (signée) ou « refused » (refusée).")
    value["reason"] = fields.get("reason", "").strip() or None
    if value["decision"] == "refused" and not value["reason"]:
        error("reason", "Indiquez le motif du refus : il sera transmis au conseiller avec la convention.")
    elif value["reason"] and len(value["reason"]) > MAX_REASON:
        error("reason", f"Le motif dépasse {MAX_REASON} caractères.")
    elif value["reason"] and (message := plausibility.free_text(value["reason"])):
        error("reason", message)
    return value, errors


def signature_moment(signed_on: date, sent_at: datetime, now: datetime) -> datetime:
    """The paper's date at noon, Paris time, kept between the sending of the version and now."""
    noon = datetime.combine(signed_on, time(12), PARIS).astimezone(timezone.utc)
    return max(aware(sent_at), min(noon, now))


def scan_url(journey_id: str, signature_id: str) -> str:
    return f"/api/v1/journeys/{journey_id}/convention/signatures/{signature_id}/scan"


def paper_view(session: Session, journey_id: str, signature: Signature, scan: SignatureScan) -> dict[str, Any]:
    party = session.get(ConventionParty, signature.party_id)
    version = session.get(ConventionVersion, signature.version_id)
    return {
        "id": signature.id, "version": version.number if version else None,
        "party": {"id": signature.party_id, "role": party.role if party else None,
                  "label": party.label if party else None},
        "decision": signature.decision, "status": signature.status, "reason": signature.reason,
        "via": signature.via, "signer_name": signature.signer_name, "user_id": signature.user_id,
        "at": aware(signature.at),
        "scan": {"content_type": scan.content_type, "size": scan.size, "sha256": scan.sha256,
                 "uploaded_by": scan.uploaded_by, "uploaded_at": aware(scan.uploaded_at),
                 "url": scan_url(journey_id, signature.id)},
    }


def new_signature_id() -> str:
    return f"sg-{uuid.uuid4().hex[:20]}"


async def submit_answer(client: Client, settings: Settings, journey_id: str, answer: SignatureIn) -> dict:
    """Send a pending answer (by link or on paper) to its journey: update `record_signature`,
    idempotent by the signature id, which accepts it through the `accept_signature` activity.

    If the journey refuses it (a replaced version, a party that has already answered or is not one
    of this version's) or cannot be reached, the answer is marked rejected, its link given back, and
    the problem raised again: nothing else was written.
    """
    handle = client.get_workflow_handle(journey_id)
    try:
        return await call_workflow(lambda: handle.execute_update(
            JourneyWorkflow.record_signature, answer, id=f"signature-{answer.signature_id}"))
    except Refusal:
        await run_in_threadpool(reject_answer, settings, answer.signature_id)
        raise


def reject_answer(settings: Settings, signature_id: str) -> None:
    """The journey refused a pending answer: mark it rejected (kept as evidence, shown nowhere as an
    answer) and give its link back, if it came by one."""
    with db_scope(settings) as session:
        rejected = session.exec(update(Signature).where(
            Signature.id == signature_id, Signature.status == "pending").values(status="rejected"))
        signature = session.get(Signature, signature_id)
        if rejected.rowcount == 1 and signature is not None and signature.token_id:
            session.exec(update(SigningToken).where(SigningToken.id == signature.token_id).values(used_at=None))


async def record_paper_signature(settings: Settings, client: Client, user: User, journey_id: str,
                                 form_fields: dict[str, str], scan: bytes | None) -> dict[str, Any]:
    """Check the fields and the scan, write the pending signature with its scan in one transaction,
    and send it to the journey (which may still refuse it: then it is kept as rejected)."""
    fields, errors = parse_fields(form_fields)
    data = scan or b""
    content_type = scan_type(data) if data else None
    if data and content_type is None:
        raise _invalid("scan", "Le scan doit être un fichier PDF, JPEG ou PNG (son contenu a été vérifié, "
                               "pas seulement son nom).", status=415)
    if scan is None:
        errors.append({"field": "scan", "message": "Joignez le scan du document signé (champ « scan »)."})
    elif not data:
        errors.append({"field": "scan", "message": "Le fichier envoyé est vide."})
    if errors:
        raise Refusal(422, "La requête contient des champs invalides.", errors=errors)

    def write() -> SignatureIn:
        with db_scope(settings) as session:
            journey = visible_journey(session, user, journey_id)
            convention = convention_of(session, journey.id)
            if convention is None:
                raise Refusal(404, "La convention de ce parcours n'est pas encore rédigée.")
            version = session.exec(select(ConventionVersion).where(
                ConventionVersion.convention_id == convention.id,
                ConventionVersion.number == fields["version"])).first()
            if version is None:
                raise Refusal(404, "Cette version de la convention n'existe pas.",
                              errors=[{"field": "version", "message": "Version inconnue pour ce parcours."}])
            party = session.get(ConventionParty, fields["party_id"])
            if party is None or party.version_id != version.id:
                raise Refusal(404, "Ce signataire n'est pas partie à cette version.",
                              errors=[{"field": "party_id", "message": "Partie inconnue pour cette version."}])
            sent_on = aware(version.created_at).astimezone(PARIS).date()
            if fields["signed_on"] < sent_on:
                raise Refusal(422, "La requête contient des champs invalides.", errors=[{
                    "field": "signed_on", "message": f"La version {version.number} a été envoyée pour signature le "
                                                     f"{sent_on:%d/%m/%Y} : elle ne peut pas avoir été signée avant."}])
            now = datetime.now(timezone.utc)
            signature = Signature(
                id=new_signature_id(), convention_id=convention.id, version_id=version.id, party_id=party.id,
                decision=fields["decision"], status="pending", reason=fields["reason"],
                signer_name=fields["signer_name"], via="paper", user_id=user.id,
                at=signature_moment(fields["signed_on"], version.created_at, now))
            session.add(signature)
            session.flush()  # the scan refers to it
            session.add(SignatureScan(signature_id=signature.id, content_type=content_type, size=len(data),
                                      sha256=hashlib.sha256(data).hexdigest(), data=data, uploaded_by=user.id,
                                      uploaded_at=now))
            return SignatureIn(signature_id=signature.id, convention_id=convention.id, version=version.number,
                               party_id=party.id, decision=signature.decision)

    answer = await run_in_threadpool(write)
    await submit_answer(client, settings, journey_id, answer)  # a refusal: rejected, and its problem raised

    def read() -> dict[str, Any]:
        with db_scope(settings) as session:
            return paper_view(session, journey_id, session.get(Signature, answer.signature_id),
                              session.get(SignatureScan, answer.signature_id))

    return jsonable_encoder(await run_in_threadpool(read))


def signature_scan(settings: Settings, user: User, journey_id: str, signature_id: str) -> tuple[bytes, str, str]:
    """The scan of a paper signature: (its bytes, content type, file name); every read traced (R22)."""
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        convention = convention_of(session, journey.id)
        signature = session.get(Signature, signature_id)
        scan = session.get(SignatureScan, signature_id)
        if convention is None or signature is None or scan is None or signature.convention_id != convention.id:
            raise Refusal(404, "Ce scan n'existe pas ou ne vous est pas accessible.")
        session.add(AuditEvent(journey_id=journey.id, actor_kind="user", actor_id=user.id,
                               action="signature_scan_read",
                               detail={"rule": "R22", "signature_id": signature.id, "sha256": scan.sha256}))
        name = f"signature-{signature.id}.{EXTENSIONS.get(scan.content_type, 'bin')}"
        return scan.data, scan.content_type, name
