"""Sign-in, the signed-in user, counsellors and their capacity, health, and the embedded mail box."""
from __future__ import annotations

import asyncio
import html
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import text

from eaflow.api.deps import SettingsDep, UserDep, client_address, oauth2, require
from eaflow.api.problems import PROBLEM, Problem
from eaflow.services import roles, sessions, team
from eaflow.services.db import db_scope
from eaflow.services.public import public
from eaflow.store.models import User

router = APIRouter()


@router.post("/api/v1/auth/token", tags=["auth"], summary="Sign in (OAuth2 password form)",
             dependencies=[public("the sign-in itself: it takes the address and password")],
             responses={401: {"description": "Wrong credentials, or a second factor needed (field otp) or wrong"},
                        403: {"description": "The policy requires a second factor of this role: enrol in the pages first"},
                        429: {"description": "Too many failures for this account or this address: wait Retry-After"}})
def sign_in(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, settings: SettingsDep,
            otp: Annotated[str | None, Form(max_length=64, description="The 6-digit code of the account's authenticator "
                                            "application, or one of its recovery codes, when it has a second factor")] = None):
    signed_in = sessions.sign_in(settings, form.username, form.password, address=client_address(request), via="api",
                                 otp=otp)
    return {"access_token": signed_in.token, "token_type": "bearer"}


@router.post("/api/v1/auth/logout", tags=["auth"], status_code=204, summary="Sign out: revoke this token now")
def sign_out(user: UserDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2)]):
    sessions.revoke(settings, token)
    return Response(status_code=204)


@router.get("/api/v1/me", tags=["auth"], summary="The signed-in user")
def me(user: UserDep, settings: SettingsDep):
    return {"id": user.id, "email": user.email, "name": user.display_name, "role": user.role,
            "platform": user.platform_id, "fte": user.fte}


@router.get("/api/v1/counsellors", tags=["counsellors"], summary="Counsellors with caseload and capacity (R7)")
def counsellors(settings: SettingsDep, user: Annotated[User, Depends(require(*roles.MANAGERS))]):
    return {"items": team.assignable(settings, user), "next_cursor": None}


@router.get("/healthz", tags=["health"], summary="200 when the API, the database and Temporal answer",
            responses={503: {"description": "The database or Temporal does not answer: which one, in `checks`"}},
            dependencies=[public("readiness: a load balancer or `eaflow up` asks without an account")])
async def healthz(request: Request, settings: SettingsDep):
    checks = {"api": "ok"}

    def database() -> None:
        with db_scope(settings) as session:
            session.exec(text("SELECT 1"))

    try:
        await asyncio.to_thread(database)
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - reported, not raised
        checks["database"] = "unavailable"
    client = await request.app.state.temporal.get()
    try:
        if client is None:
            raise RuntimeError("not connected")
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        checks["temporal"] = "ok"
    except Exception:  # noqa: BLE001
        checks["temporal"] = "unavailable"
    failed = [name for name, state in checks.items() if state != "ok"]
    if failed:
        body = {"type": "about:blank", "title": "Service momentanément indisponible", "status": 503,
                "detail": "Ne répond pas : " + ", ".join(failed), "checks": checks}
        return JSONResponse(body, status_code=503, media_type=PROBLEM)
    return {"status": "ok", "checks": checks}


@router.get("/dev/mail.json", tags=["embedded"], summary="Mails caught by the embedded stack",
            responses={404: {"description": "Outside the embedded stack (`eaflow up`)"}},
            dependencies=[public("the embedded stack's mail catcher: 404 unless `eaflow up` set dev_mail_dir")])
def dev_mail_json(settings: SettingsDep):
    if settings.dev_mail_dir is None:
        raise Problem(404, "La boîte de test n'existe qu'avec `eaflow up`.")
    from eaflow.notifications.catcher import read_mails

    return {"items": read_mails(settings.dev_mail_dir)}


@router.get("/dev/mail", tags=["embedded"], response_class=HTMLResponse, summary="Mails caught, as a page",
            responses={404: {"description": "Outside the embedded stack (`eaflow up`)"}},
            dependencies=[public("the embedded stack's mail catcher: 404 unless `eaflow up` set dev_mail_dir")])
def dev_mail(settings: SettingsDep):
    mails = dev_mail_json(settings)["items"]
    rows = "".join(
        f"<article><h2>{html.escape(str(m.get('subject', '')))}</h2>"
        f"<p><b>À :</b> {html.escape(str(m.get('to', '')))} · <b>Le :</b> {html.escape(str(m.get('date', '')))}"
        f" · <code>{html.escape(str(m.get('kind') or ''))}</code></p>"
        f"<pre>{html.escape(str(m.get('body', '')))}</pre></article>"
        for m in reversed(mails)
    )
    return (f"<!doctype html><html lang='fr'><meta charset='utf-8'><title>Courriels envoyés — eaflow</title>"
            f"<style>body{{font-family:sans-serif;max-width:60rem;margin:auto}}article{{border-bottom:1px solid #ccc}}"
            f"pre{{white-space:pre-wrap}}</style><h1>Courriels envoyés ({len(mails)})</h1>{rows or '<p>Aucun.</p>'}</html>")
