"""Paper signatures of the convention (R10) over HTTP: the multipart body is read as it arrives and
abandoned as soon as the scan exceeds MAX_SCAN_BYTES (413); the checks, the writes and the journey's
answer are eaflow.services.signatures'. `GET …/convention/signatures/{signature_id}/scan` gives the
scan back; every read is traced (R22).
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from eaflow.api.deps import SettingsDep, TemporalDep, require
from eaflow.api.problems import Problem
from eaflow.services import roles
from eaflow.services import signatures as service
from eaflow.services.access import visible_journey
from eaflow.services.db import db_scope
from eaflow.services.signatures import (
    MAX_FIELD_BYTES,
    MAX_NAME,
    MAX_REASON,
    MAX_SCAN_BYTES,
    too_big,
)
from eaflow.store.models import User

router = APIRouter(prefix="/api/v1/journeys", tags=["convention"])
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]

MAX_FIELDS = 16
FORM_OVERHEAD = 64 * 1024  # boundaries, part headers and the text fields around the scan
CHUNK_BYTES = 64 * 1024


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
            raise too_big() if self._is_file else _invalid(self._name, "Ce champ est trop long.")
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
        raise too_big()
    form, received = _Form(), 0
    try:
        parser = MultipartParser(params[b"boundary"], form.callbacks())
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_big()
            for start in range(0, len(chunk), CHUNK_BYTES):
                parser.write(chunk[start:start + CHUNK_BYTES])
        parser.finalize()
    except FormParserError:
        raise _invalid("body", "Le formulaire envoyé est mal formé.") from None
    if not form.ended:
        raise _invalid("body", "Le formulaire envoyé est incomplet.")
    return form


MULTIPART_BODY = {"x-max-body": MAX_SCAN_BYTES + FORM_OVERHEAD,  # api/body_limits.py: the scan is the big part
                  "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
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
    view = await service.record_paper_signature(settings, client, user, journey_id, form.fields, form.scan)
    return JSONResponse(view, status_code=201)


@router.get("/{journey_id}/convention/signatures/{signature_id}/scan", response_class=Response,
            summary="The scan of a paper signature (every read traced, R22)",
            responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}})
def signature_scan(journey_id: str, signature_id: str, settings: SettingsDep, user: StaffDep):
    data, content_type, name = service.signature_scan(settings, user, journey_id, signature_id)
    return Response(data, media_type=content_type, headers={
        "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})
