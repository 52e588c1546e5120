"""The public signing pages of the convention (R10): no account, a personal link by mail.

`GET /signature/{convention_id}/{token}` shows the document and a form to sign it, or to refuse it
with a reason; `POST` to the same address answers. The link is checked in this order: its form, its
HMAC (a modified token, or one moved under another convention's address, is refused), its expiry,
the database row (single use: consumed atomically with the pending answer), then the version
(a version that a later one replaced cannot be signed) and the party (one answer per party). The
journey accepts the answer (update `record_signature`, which checks again); if it refuses, the
answer is marked rejected and the link given back: a refused attempt changes nothing else.
`submit_answer` does this for the counsellor's paper signatures too (api/paper_signatures.py).

Every refusal of a link is a French page with a 4xx status; nothing is written. Before any of this,
every request to a link counts against the abuse limits of the public links (services/limits.py):
past them, a 429 page with Retry-After, the same for a valid link as for an invalid one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import update
from sqlmodel import Session

from eaflow.activities.convention import aware
from eaflow.api.deps import SettingsDep, TemporalDep, client_address
from eaflow.api.problems import Problem, page_refusals
from eaflow.documents.render import page, render
from eaflow.services import limits
from eaflow.services.db import db_scope
from eaflow.services.public import public
from eaflow.services.refusals import Refusal
from eaflow.services.signatures import new_signature_id, submit_answer
from eaflow.signing import TokenError, read_token, reading_keys
from eaflow.store.convention import (
    Convention,
    ConventionParty,
    ConventionVersion,
    Signature,
    SigningToken,
)
from eaflow.store.models import CLOSED_STATES, AuditEvent, Journey, Platform
from eaflow.workflows.types import SignatureIn


class LimitedLinkRoute(APIRoute):
    """A signing link's route: the request counts against the abuse limits before anything is read
    (its body, its token); past them a 429 French page with Retry-After, nothing else written."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            params = request.path_params
            try:
                wait = await run_in_threadpool(limits.admit, request.app.state.settings, "signature",
                                               client_address(request),
                                               f"{params.get('convention_id')}/{params.get('token')}")
            except Refusal as refusal:  # the database does not answer
                return message_page(refusal.title, refusal.detail, status=refusal.status, error=True)
            if wait is not None:
                refusal = limits.too_many_requests(wait)
                response = message_page(refusal.title, refusal.detail, status=429, error=True)
                response.headers["Retry-After"] = str(wait)
                return response
            return await handler(request)

        return route


router = APIRouter(tags=["signature"], route_class=LimitedLinkRoute, responses={
    **page_refusals(403, 404, 409, 410, 422, 503),
    429: {"description": "Too many requests to public links from this address, or to this link: wait Retry-After",
          "content": {"text/html": {}}}})
PUBLIC_LINK = public("a party's personal signature link: its signed token is the credential (check_link)")

TITLE = "Signature de la convention d'emploi accompagné"
ASK_COUNSELLOR = "Si vous devez encore répondre, votre conseiller en emploi accompagné peut vous envoyer un nouveau lien."
REFUSALS: dict[str, tuple[int, str, str]] = {
    "malformed": (404, "Lien non valide", "Ce lien de signature n'est pas valide : il a peut-être été mal copié. "
                                          "Vérifiez qu'il est complet, ou copiez-le à nouveau depuis le courriel reçu."),
    "tampered": (404, "Lien non valide", "Ce lien de signature n'est pas valide : il a été modifié ou mal copié. "
                                         "Copiez-le à nouveau depuis le courriel reçu."),
    "foreign": (403, "Lien non valide pour cette convention",
                "Ce lien de signature ne correspond pas à cette convention. Utilisez le lien exact reçu par courriel."),
    "expired": (410, "Lien expiré", "Ce lien de signature a expiré. Un nouveau lien vous sera envoyé avec le prochain "
                                    "rappel."),
    "used": (410, "Lien déjà utilisé", "Ce lien de signature a déjà servi : chaque lien ne peut être utilisé qu'une "
                                       "fois. Votre réponse précédente a bien été enregistrée."),
    "replaced": (409, "Version remplacée", "Cette version de la convention a été remplacée par une version plus "
                                           "récente : elle ne peut plus être signée. Vous recevrez un lien pour la "
                                           "nouvelle version."),
    "answered": (409, "Réponse déjà enregistrée", "Vous avez déjà répondu pour cette version de la convention."),
    "signed": (409, "Convention déjà signée", "Cette convention est déjà signée par toutes les parties."),
    "closed": (410, "Dossier clos", "Ce dossier d'emploi accompagné a été clos : cette convention ne peut plus être "
                                   "signée. Vous n'avez rien d'autre à faire."),
}


# The pages carry a personal link: never cached, never sent as a Referer, never framed.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                           "frame-ancestors 'none'"}


class LinkRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Link:
    token: SigningToken
    party: ConventionParty
    version: ConventionVersion
    convention: Convention


def message_page(heading: str, message: str, *, status: int = 200, hint: str | None = None,
                 error: bool = False) -> HTMLResponse:
    body = render("signing_message.html.j2", heading=heading, message=message, hint=hint, error=error)
    return HTMLResponse(page(f"{heading} — {TITLE}", body), status_code=status, headers=PAGE_HEADERS)


def refusal_page(reason: str) -> HTMLResponse:
    status, heading, message = REFUSALS[reason]
    hint = None if reason in ("signed", "answered", "used", "closed") else ASK_COUNSELLOR
    return message_page(heading, message, status=status, hint=hint, error=True)


def check_link(session: Session, keys: list[bytes], convention_id: str, token: str) -> Link:
    """The link's row, party and version, or LinkRefused with the reason (see the module docstring)."""
    now = datetime.now(timezone.utc)
    try:
        token_id = read_token(keys, convention_id, token, now)
    except TokenError as error:
        if error.reason == "tampered":
            row = session.get(SigningToken, token.split(".", 1)[0])
            if row is not None and row.convention_id != convention_id:
                try:  # a genuine link of another convention, put under this one's address
                    read_token(keys, row.convention_id, token, now)
                    raise LinkRefused("foreign") from error
                except TokenError:
                    pass
        raise LinkRefused(error.reason) from error
    row = session.get(SigningToken, token_id)
    if row is None:
        raise LinkRefused("tampered")
    if row.convention_id != convention_id:
        raise LinkRefused("foreign")
    if aware(row.expires_at) <= now:
        raise LinkRefused("expired")
    if row.used_at is not None:
        raise LinkRefused("used")
    convention = session.get(Convention, row.convention_id)
    version = session.get(ConventionVersion, row.version_id)
    party = session.get(ConventionParty, row.party_id)
    journey = session.get(Journey, convention.journey_id)
    if journey is not None and journey.state in CLOSED_STATES:  # R15/R18: closed while the links were out
        raise LinkRefused("closed")
    if convention.status == "signed":
        raise LinkRefused("signed")
    if convention.current_version_id != version.id or version.status != "signing":
        raise LinkRefused("replaced")
    if party.signed_at is not None or party.refused_at is not None:
        raise LinkRefused("answered")
    return Link(row, party, version, convention)


def trace_link_read(session: Session, link: Link, form: str) -> None:
    """R22: the convention shown to a signatory (the person, their representative or the employer) is
    the person's file read through a personal link: traced like a staff member's read, by the party."""
    session.add(AuditEvent(journey_id=link.convention.journey_id, actor_kind="link", actor_id=link.party.id,
                           action="convention_read",
                           detail={"role": link.party.role, "version": link.version.number, "form": form}))


def _platform_name(session: Session, convention: Convention) -> str:
    journey = session.get(Journey, convention.journey_id)
    platform = session.get(Platform, journey.platform_id) if journey else None
    return platform.name if platform else "La plateforme d'emploi accompagné"


@router.get("/signature/{convention_id}/{token}", response_class=HTMLResponse, dependencies=[PUBLIC_LINK],
            summary="Public page: read the convention and sign or refuse it (personal link)")
def signing_page(convention_id: str, token: str, request: Request, settings: SettingsDep):
    keys = reading_keys(settings)
    with db_scope(settings) as session:
        try:
            link = check_link(session, keys, convention_id, token)
        except LinkRefused as refused:
            return refusal_page(refused.reason)
        trace_link_read(session, link, "page")
        body = render("signing_form.html.j2", platform_name=_platform_name(session, link.convention),
                      version_number=link.version.number, party_label=link.party.label,
                      signatory_name=link.party.signatory_name, document=link.version.html,
                      content_hash=link.version.content_hash, action=str(request.url.path),
                      pdf_url=f"{request.url.path}/convention.pdf")
    return HTMLResponse(page(TITLE, body), headers=PAGE_HEADERS)


@router.get("/signature/{convention_id}/{token}/convention.pdf", summary="Public: the convention to sign, as a PDF",
            dependencies=[PUBLIC_LINK])
def signing_pdf(convention_id: str, token: str, settings: SettingsDep):
    keys = reading_keys(settings)
    with db_scope(settings) as session:
        try:
            link = check_link(session, keys, convention_id, token)
        except LinkRefused as refused:
            return refusal_page(refused.reason)
        trace_link_read(session, link, "pdf")
        return Response(link.version.pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="convention-v{link.version.number}.pdf"',
            "Cache-Control": "no-store"})


@router.post("/signature/{convention_id}/{token}", response_class=HTMLResponse, dependencies=[PUBLIC_LINK],
             summary="Public: sign the convention, or refuse it with a reason (single use)")
async def sign(convention_id: str, token: str, request: Request, settings: SettingsDep, client: TemporalDep,
               decision: Annotated[str, Form()] = "", signer_name: Annotated[str, Form(max_length=200)] = "",
               reason: Annotated[str, Form(max_length=2000)] = "", agree: Annotated[str, Form()] = ""):
    keys = reading_keys(settings)
    decision = {"sign": "signed", "refuse": "refused"}.get(decision.strip())
    signer_name, reason = signer_name.strip(), reason.strip()
    problem = None
    if decision is None:
        problem = "Choisissez de signer ou de refuser la convention."
    elif not signer_name:
        problem = "Indiquez vos nom et prénom."
    elif decision == "signed" and agree != "yes":
        problem = "Pour signer, cochez la case indiquant que vous avez lu la convention et en acceptez les termes."
    elif decision == "refused" and not reason:
        problem = "Indiquez pourquoi vous refusez la convention : votre conseiller en tiendra compte."

    def consume() -> tuple[HTMLResponse | None, SignatureIn | None, str, str]:
        with db_scope(settings) as session:
            try:
                link = check_link(session, keys, convention_id, token)
            except LinkRefused as refused:
                return refusal_page(refused.reason), None, "", ""
            if problem:
                return message_page("Réponse incomplète", problem, status=422, error=True,
                                    hint="Revenez à la page précédente pour compléter votre réponse."), None, "", ""
            now = datetime.now(timezone.utc)
            used = session.exec(update(SigningToken).where(
                SigningToken.id == link.token.id, SigningToken.used_at.is_(None)).values(used_at=now))
            if used.rowcount != 1:  # another request used it in the meantime
                return refusal_page("used"), None, "", ""
            signature = Signature(
                id=new_signature_id(), convention_id=link.convention.id, version_id=link.version.id,
                party_id=link.party.id, decision=decision, status="pending",
                reason=reason or None, signer_name=signer_name, via="link", token_id=link.token.id,
                ip=request.client.host if request.client else None,
                user_agent=(request.headers.get("user-agent") or "")[:500] or None, at=now)
            session.add(signature)
            answer = SignatureIn(signature_id=signature.id, convention_id=link.convention.id,
                                 version=link.version.number, party_id=link.party.id, decision=decision)
            return None, answer, link.convention.journey_id, link.token.id

    refused_page, answer, journey_id, _ = await run_in_threadpool(consume)
    if refused_page is not None:
        return refused_page
    try:
        await submit_answer(client, settings, journey_id, answer)
    except Problem as error:
        if error.status == 409:
            return message_page("Réponse non enregistrée", error.detail, status=409, error=True)
        return message_page("Réponse non enregistrée", "Votre réponse n'a pas pu être enregistrée pour le moment. "
                            "Rien n'a été modifié : réessayez dans quelques minutes avec le même lien.",
                            status=error.status if 400 <= error.status < 600 else 503, error=True)
    if decision == "signed":
        return message_page("Merci, votre signature est enregistrée",
                            "Vous avez signé la convention individuelle d'accompagnement. Quand toutes les parties "
                            "l'auront signée, vous en recevrez une copie signée par courriel.")
    return message_page("Votre refus est enregistré",
                        "Votre refus et son motif ont été transmis à votre conseiller en emploi accompagné, qui vous "
                        "proposera une nouvelle version de la convention.")
