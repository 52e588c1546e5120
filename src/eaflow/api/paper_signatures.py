"""Paper signatures of the convention (R10): the counsellor records a party's signature (or refusal)
made on paper, with the scan of the signed document.

`POST /api/v1/journeys/{id}/convention/paper-signatures` (multipart/form-data) is the paper
counterpart of the personal link: the journey's counsellor or a manager of its platform sends the
version, the party, the signer's name, the date written on the paper, the decision (and the reason
of a refusal) and the scan. The request body is read as it arrives and abandoned as soon as the scan
exceeds MAX_SCAN_BYTES (413); the scan's type is read from its first bytes, never from what the
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
from datetime import date, datetime, time, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlmodel import Session, select

from eaflow.activities.convention import aware
from eaflow.api.convention import convention_of
from eaflow.api.deps import SettingsDep, TemporalDep, db_scope, require
from eaflow.api.problems import Problem
from eaflow.api.signing import new_signature_id, submit_answer
from eaflow.api.views import visible_journey
from eaflow.store.convention import ConventionParty, ConventionVersion, Signature, SignatureScan
from eaflow.store.models import AuditEvent, User
from eaflow.workflows.types import SignatureIn

router = APIRouter(prefix="/api/v1/journeys", tags=["convention"])
StaffDep = Annotated[User, Depends(require("counsellor", "manager"))]

MAX_SCAN_BYTES = 10 * 1024 * 1024  # 10 MiB: a few scanned pages
MAX_FIELD_BYTES = 8 * 1024  # a text field (the reason: 2,000 characters)
MAX_FIELDS = 16
FORM_OVERHEAD = 64 * 1024  # boundaries, part headers and the text fields around the scan
CHUNK_BYTES = 64 * 1024
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


def _too_big() -> Problem:
    return Problem(413, f"Le scan dépasse la taille maximale de {MAX_SCAN_BYTES // (1024 * 1024)} Mo.",
                   errors=[{"field": "scan", "message": "Fichier trop volumineux : réduisez la résolution du scan "
                                                        "ou envoyez-le en PDF compressé."}])


def _invalid(field: str, message: str, status: int = 422) -> Problem:
    return Problem(status, "La requête contient des champs invalides.", errors=[{"field": field, "message": message}])


# ---------------------------------------------------------------------- reading the upload

class _Form:
    """A multipart body parsed as it arrives: short text fields, and one file, `scan`, kept in memory
    up to MAX_SCAN_BYTES (one byte more and the reading stops)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.scan: bytes | None = None
        self.ended = False
        self._header_name = self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name, self._is_file, self._data = "", False, bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value_, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _part_begin(self) -> None:
        self._headers, self._data = {}, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if b"name" not in options:
            raise _invalid("body", "Le formulaire envoyé est mal formé.")
        self._name = options[b"name"].decode("utf-8", "replace")
        self._is_file = b"filename" in options
        if self._is_file and (self._name != "scan" or self.scan is not None):
            raise _invalid(self._name, "Un seul fichier est attendu, dans le champ « scan ».")
        if not self._is_file and len(self.fields) >= MAX_FIELDS:
            raise _invalid("body", "Le formulaire contient trop de champs.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        limit = MAX_SCAN_BYTES if self._is_file else MAX_FIELD_BYTES
        if len(self._data) + (end - start) > limit:
            raise _too_big() if self._is_file else _invalid(self._name, "Ce champ est trop long.")
        self._data += data[start:end]

    def _part_end(self) -> None:
        if self._is_file:
            self.scan = bytes(self._data)
            return
        try:
            self.fields[self._name] = self._data.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(self._name, "Ce champ n'est pas un texte UTF-8 valide.") from None

    def _end(self) -> None:
        self.ended = True


async def read_form(request: Request) -> _Form:
    """The fields and the scan of a multipart body, read chunk by chunk: 413 as soon as it is too big."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise _invalid("body", "Envoyez un formulaire multipart/form-data avec le scan dans le champ « scan ».",
                       status=415)
    limit = MAX_SCAN_BYTES + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # refused before reading a byte
        raise _too_big()
    form, received = _Form(), 0
    try:
        parser = MultipartParser(params[b"boundary"], form.callbacks())
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _too_big()
            for start in range(0, len(chunk), CHUNK_BYTES):
                parser.write(chunk[start:start + CHUNK_BYTES])
        parser.finalize()
    except FormParserError:
        raise _invalid("body", "Le formulaire envoyé est mal formé.") from None
    if not form.ended:
        raise _invalid("body", "Le formulaire envoyé est incomplet.")
    return form


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
    try:
        value["signed_on"] = date.fromisoformat(fields.get("signed_on", "").strip())
        if value["signed_on"] > paris_today():
            error("signed_on", "La date de signature ne peut pas être dans le futur.")
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


# ---------------------------------------------------------------------- the routes

MULTIPART_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["version", "party_id", "signer_name", "signed_on", "scan"],
    "properties": {
        "version": {"type": "integer", "minimum": 1, "description": "Numéro de la version signée"},
        "party_id": {"type": "string", "description": "La partie (parties[].id de la convention)"},
        "signer_name": {"type": "string", "maxLength": MAX_NAME, "description": "Nom et prénom du signataire"},
        "signed_on": {"type": "string", "format": "date",
                      "description": "Date portée sur le papier : ni future, ni antérieure à l'envoi de la version"},
        "decision": {"type": "string", "enum": ["signed", "refused"], "default": "signed"},
        "reason": {"type": "string", "maxLength": MAX_REASON, "description": "Motif, obligatoire pour un refus"},
        "scan": {"type": "string", "format": "binary",
                 "description": f"Le scan : PDF, JPEG ou PNG, {MAX_SCAN_BYTES} octets au plus"},
    }}}}}}


@router.post("/{journey_id}/convention/paper-signatures", status_code=201, openapi_extra=MULTIPART_BODY,
             summary="Record a party's paper signature (or refusal) with its scan (R10)",
             responses={413: {"description": "Scan trop volumineux"}, 415: {"description": "Type de scan refusé"}})
async def record_paper_signature(journey_id: str, request: Request, settings: SettingsDep, client: TemporalDep,
                                 user: StaffDep):
    def visible() -> None:
        with db_scope(settings) as session:
            visible_journey(session, user, journey_id)

    await run_in_threadpool(visible)  # 404 before reading the body of a journey this user cannot see
    form = await read_form(request)
    fields, errors = parse_fields(form.fields)
    scan = form.scan or b""
    content_type = scan_type(scan) if scan else None
    if scan and content_type is None:
        raise _invalid("scan", "Le scan doit être un fichier PDF, JPEG ou PNG (son contenu a été vérifié, "
                               "pas seulement son nom).", status=415)
    if form.scan is None:
        errors.append({"field": "scan", "message": "Joignez le scan du document signé (champ « scan »)."})
    elif not scan:
        errors.append({"field": "scan", "message": "Le fichier envoyé est vide."})
    if errors:
        raise Problem(422, "La requête contient des champs invalides.", errors=errors)

    def write() -> SignatureIn:
        with db_scope(settings) as session:
            journey = visible_journey(session, user, journey_id)
            convention = convention_of(session, journey.id)
            if convention is None:
                raise Problem(404, "La convention de ce parcours n'est pas encore rédigée.")
            version = session.exec(select(ConventionVersion).where(
                ConventionVersion.convention_id == convention.id,
                ConventionVersion.number == fields["version"])).first()
            if version is None:
                raise Problem(404, "Cette version de la convention n'existe pas.",
                              errors=[{"field": "version", "message": "Version inconnue pour ce parcours."}])
            party = session.get(ConventionParty, fields["party_id"])
            if party is None or party.version_id != version.id:
                raise Problem(404, "Ce signataire n'est pas partie à cette version.",
                              errors=[{"field": "party_id", "message": "Partie inconnue pour cette version."}])
            sent_on = aware(version.created_at).astimezone(PARIS).date()
            if fields["signed_on"] < sent_on:
                raise Problem(422, "La requête contient des champs invalides.", errors=[{
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
            session.add(SignatureScan(signature_id=signature.id, content_type=content_type, size=len(scan),
                                      sha256=hashlib.sha256(scan).hexdigest(), data=scan, uploaded_by=user.id,
                                      uploaded_at=now))
            return SignatureIn(signature_id=signature.id, convention_id=convention.id, version=version.number,
                               party_id=party.id, decision=signature.decision)

    answer = await run_in_threadpool(write)
    await submit_answer(client, settings, journey_id, answer)  # a refusal: rejected, and its problem raised

    def read() -> dict[str, Any]:
        with db_scope(settings) as session:
            return paper_view(session, journey_id, session.get(Signature, answer.signature_id),
                              session.get(SignatureScan, answer.signature_id))

    view = await run_in_threadpool(read)
    return JSONResponse(jsonable_encoder(view), status_code=201)


@router.get("/{journey_id}/convention/signatures/{signature_id}/scan", response_class=Response,
            summary="The scan of a paper signature (every read traced, R22)",
            responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}})
def signature_scan(journey_id: str, signature_id: str, settings: SettingsDep, user: StaffDep):
    with db_scope(settings) as session:
        journey = visible_journey(session, user, journey_id)
        convention = convention_of(session, journey.id)
        signature = session.get(Signature, signature_id)
        scan = session.get(SignatureScan, signature_id)
        if convention is None or signature is None or scan is None or signature.convention_id != convention.id:
            raise Problem(404, "Ce scan n'existe pas ou ne vous est pas accessible.")
        session.add(AuditEvent(journey_id=journey.id, actor_kind="user", actor_id=user.id,
                               action="signature_scan_read",
                               detail={"rule": "R22", "signature_id": signature.id, "sha256": scan.sha256}))
        name = f"signature-{signature.id}.{EXTENSIONS.get(scan.content_type, 'bin')}"
        return Response(scan.data, media_type=scan.content_type, headers={
            "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})
