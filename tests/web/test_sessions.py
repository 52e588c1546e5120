"""Sessions of the pages and the sign-in throttle shared with the API: cookie flags, idle and absolute
expiry, sign-out and a disabled account ending a session at once, 5 failures → 429 with Retry-After,
every attempt traced."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
from sqlmodel import select

from eaflow.app import create_app
from eaflow.services.sessions import token_hash
from eaflow.store.accounts import SignInAttempt
from eaflow.store.db import session_scope
from eaflow.store.models import AccessToken, User
from tests.conftest import PASSWORD
from tests.web.conftest import csrf_of

C1, C2, MANAGER = "c1@test.fr", "c2@test.fr", "manager@test.fr"


def attempts(settings, **where) -> list[str]:
    with session_scope(settings.db_url) as session:
        query = select(SignInAttempt).order_by(SignInAttempt.id)
        for column, value in where.items():
            query = query.where(getattr(SignInAttempt, column) == value)
        return [row.outcome for row in session.exec(query).all()]


def web_session(settings) -> AccessToken:
    with session_scope(settings.db_url) as session:
        return session.exec(select(AccessToken).where(AccessToken.kind == "web")).one()


async def test_the_session_cookie_is_httponly_lax_and_revoked_by_sign_out(plain_pages, settings):
    signed = await plain_pages.sign_in(C1)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = next(v for k, v in signed.headers.multi_items() if k == "set-cookie" and "eaflow_session=" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = plain_pages.client(C1).cookies["eaflow_session"]
    assert (await plain_pages.get(C1, "/")).status_code == 200
    out = await plain_pages.submit(C1, "/deconnexion", {}, page="/")
    assert out.status_code == 303 and out.headers["location"] == "/connexion?deconnecte=1"
    with session_scope(settings.db_url) as session:
        assert session.get(AccessToken, token_hash(token)) is None
    # The old cookie, replayed, no longer opens anything.
    replayed = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_pages.app), base_url="http://test",
                                 cookies={"eaflow_session": token})
    async with replayed:
        assert (await replayed.get("/")).status_code == 303


async def test_the_cookie_is_secure_when_the_public_url_is_https(settings, platform):
    app = create_app(replace(settings, public_url="https://eaflow.plateforme35.fr"))
    # (a Secure cookie travels over https only)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as http:
        form = await http.get("/connexion")
        signed = await http.post("/connexion", data={"email": C1, "password": PASSWORD, "suivant": "/",
                                                     "csrf_token": csrf_of(form.text)})
    assert signed.status_code == 303
    assert "Secure" in next(v for k, v in signed.headers.multi_items() if k == "set-cookie" and "eaflow_session" in v)


async def test_a_session_ends_after_its_idle_timeout_and_its_lifetime(plain_pages, settings):
    await plain_pages.sign_in(C1)
    assert (await plain_pages.get(C1, "/")).status_code == 200
    with session_scope(settings.db_url) as session:  # 31 minutes without a request (policy: PT30M)
        row = session.exec(select(AccessToken).where(AccessToken.kind == "web")).one()
        row.last_used_at = datetime.now(timezone.utc) - timedelta(minutes=31)
        session.add(row)
    gone = await plain_pages.get(C1, "/personnes")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/connexion?suivant=")
    await plain_pages.sign_in(C1, who="again")
    with session_scope(settings.db_url) as session:  # active, but past its lifetime (PT12H)
        row = session.exec(select(AccessToken).where(AccessToken.kind == "web")).one()
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        session.add(row)
    assert (await plain_pages.get("again", "/")).status_code == 303


async def test_a_disabled_account_loses_its_session_at_once(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    assert (await plain_pages.get(C1, "/")).status_code == 200
    with session_scope(settings.db_url) as session:
        session.get(User, platform.counsellor).active = False
    assert (await plain_pages.get(C1, "/")).status_code == 303


async def test_five_failures_for_one_account_throttle_the_api_and_the_pages(plain_pages, settings):
    http = plain_pages.api.http
    for _ in range(5):
        wrong = await http.post("/api/v1/auth/token", data={"username": C1, "password": "pas le bon"})
        assert wrong.status_code == 401
    right = await http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})
    assert right.status_code == 429, right.text
    assert right.headers["content-type"] == "application/problem+json"
    assert 800 <= int(right.headers["Retry-After"]) <= 900  # until the first failure is 15 minutes old
    assert "Trop de tentatives" in right.json()["detail"]
    page = await plain_pages.sign_in(C1)  # the pages share the count
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Trop de tentatives de connexion" in page.text
    assert attempts(settings, email=C1) == ["failure"] * 5 + ["throttled", "throttled"]
    # Another account signs in from another address; from this one, five failures lock every account.
    elsewhere = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_pages.app, client=("192.0.2.7", 5000)),
                                  base_url="http://test")
    async with elsewhere:
        assert (await elsewhere.post("/api/v1/auth/token",
                                     data={"username": C2, "password": PASSWORD})).status_code == 200
    assert attempts(settings, email=C2) == ["success"]
    assert attempts(settings, address="192.0.2.7") == ["success"]


async def test_five_failures_from_one_address_throttle_every_account(plain_pages, settings):
    http = plain_pages.api.http
    for n in range(5):
        assert (await http.post("/api/v1/auth/token", data={"username": f"inconnu{n}@test.fr",
                                                             "password": "x"})).status_code == 401
    locked = await http.post("/api/v1/auth/token", data={"username": MANAGER, "password": PASSWORD})
    assert locked.status_code == 429


async def test_a_success_clears_the_accounts_count_not_the_addresss(plain_pages, settings):
    http = plain_pages.api.http
    for _ in range(4):
        await http.post("/api/v1/auth/token", data={"username": C1, "password": "non"})
    assert (await http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})).status_code == 200
    # the address still counts its four failures: a fifth, whoever it names, locks the address
    assert (await http.post("/api/v1/auth/token", data={"username": C2, "password": "non"})).status_code == 401
    assert (await http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})).status_code == 429
