"""The second factor in the pages (TOTP, RFC 6238): enrolment with a real authenticator's code (pyotp),
sign-in in two steps where the pending step opens no page, a code never accepted twice, recovery codes
that work once and are stored only as keyed hashes, the policy's requirement for managers, an
administrator's reset in the audit trail, and wrong codes counted by the sign-in throttle."""
from __future__ import annotations

import re
import time
from html import unescape
from unittest import mock

import httpx
import pyotp
import pytest
from sqlmodel import select

from eaflow import accounts
from eaflow.app import create_app
from eaflow.store.accounts import RecoveryCode, SecondFactor, SignInAttempt
from eaflow.store.db import session_scope
from eaflow.store.models import AccessToken, AuditEvent, User
from tests.api.conftest import Api
from tests.conftest import PASSWORD, _password_hash, with_policy
from tests.web.conftest import Pages, csrf_of

C1, C2, MANAGER, ADMIN = "c1@test.fr", "c2@test.fr", "manager@test.fr", "admin@test.fr"
SECRET = re.compile(r'<code id="cle">([A-Z2-7 ]+)</code>')
RECOVERY = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


def code(secret: str, steps_from_now: int = 0) -> str:
    """What the person's authenticator shows, `steps_from_now` 30-second steps from now."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


CONFIRMATIONS: dict[str, str] = {}  # secret -> the code that confirmed its enrolment


async def enrol(pages: Pages, who: str, *, steps_from_now: int = -1) -> tuple[str, list[str]]:
    """Turn the factor on from "Sécurité du compte" (signed in), confirmed with the code of the previous
    step so that the current and the next one still sign in. Returns the secret and recovery codes."""
    page = await pages.get(who, "/securite/activation")
    assert page.status_code == 200, page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    confirmation = code(secret, steps_from_now)
    CONFIRMATIONS[secret] = confirmation
    done = await pages.submit(who, "/securite/activation", {"code": confirmation}, page="/securite/activation")
    assert done.status_code == 200, done.text
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


async def sign_out(pages: Pages, who: str) -> None:
    assert (await pages.submit(who, "/deconnexion", {}, page="/securite")).status_code == 303


async def second_step(pages: Pages, who: str, typed: str) -> httpx.Response:
    http = pages.client(who)
    form = await http.get("/connexion/code?suivant=/")
    assert form.status_code == 200, form.text
    return await http.post("/connexion/code", data={"code": typed, "suivant": "/", "csrf_token": csrf_of(form.text)})


def outcomes(settings, email: str) -> list[str]:
    with session_scope(settings.db_url) as session:
        return [row.outcome for row in session.exec(
            select(SignInAttempt).where(SignInAttempt.email == email).order_by(SignInAttempt.id)).all()]


@pytest.fixture
def admin_id(settings, platform) -> str:
    with session_scope(settings.db_url) as session, mock.patch.object(accounts, "hash_password", _password_hash):
        return accounts.create_user(session, ADMIN, "admin", PASSWORD, platform_id=platform.platform_id,
                                    display_name="Alex Admin").id


@pytest.fixture
async def managers_need_it(settings, platform, tmp_path):
    """The pages under a policy that requires a second factor of managers."""
    path = tmp_path / "policy.toml"
    path.write_text('[accounts]\nsecond_factor_roles = ["manager"]\n')
    app = create_app(with_policy(settings, path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        browser = Pages(app, Api(http))
        yield browser
        await browser.close()


async def test_enrolment_shows_a_qr_code_and_takes_a_real_authenticator_code(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    security = await plain_pages.get(C1, "/securite")
    assert security.status_code == 200 and "n'est pas activée" in unescape(security.text)
    page = await plain_pages.get(C1, "/securite/activation")
    assert page.status_code == 200
    assert '<svg role="img"' in page.text and "<script" not in page.text.split("</head>")[1]
    assert "style=" not in page.text  # the CSP forbids inline style
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    assert len(secret) == 32
    # A code that is not the authenticator's is refused, and the factor stays off.
    wrong = await plain_pages.submit(C1, "/securite/activation", {"code": "000000" if code(secret) != "000000"
                                                                  else "111111"}, page="/securite/activation")
    assert wrong.status_code == 422 and "n'est pas valable" in unescape(wrong.text)
    with session_scope(settings.db_url) as session:
        assert session.get(SecondFactor, platform.counsellor).confirmed_at is None
    done = await plain_pages.submit(C1, "/securite/activation", {"code": code(secret)}, page="/securite/activation")
    assert done.status_code == 200 and "ne seront plus jamais affichés" in unescape(done.text)
    assert len(RECOVERY.findall(done.text)) == 10
    # Once on, the secret is never shown again.
    again = await plain_pages.get(C1, "/securite/activation")
    assert again.status_code == 303 and again.headers["location"] == "/securite"
    security = await plain_pages.get(C1, "/securite")
    assert "Activée depuis le" in unescape(security.text) and "10 sur 10" in unescape(security.text)
    assert secret not in security.text and not SECRET.search(security.text)
    with session_scope(settings.db_url) as session:
        assert [e.action for e in session.exec(select(AuditEvent).where(
            AuditEvent.action == "second_factor_enabled")).all()] == ["second_factor_enabled"]


async def test_sign_in_asks_for_the_code_and_the_pending_step_opens_no_page(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    secret, _ = await enrol(plain_pages, C1)
    await sign_out(plain_pages, C1)
    signed = await plain_pages.sign_in(C1)
    assert signed.status_code == 303 and signed.headers["location"] == "/connexion/code?suivant=%2F"
    assert "eaflow_session" not in plain_pages.client(C1).cookies
    pending = next(v for k, v in signed.headers.multi_items() if k == "set-cookie" and "eaflow_pending=" in v)
    assert "HttpOnly" in pending and "Path=/connexion" in pending
    # The pending token is no session: neither as the pages' cookie nor as an API bearer token.
    token = plain_pages.client(C1).cookies["eaflow_pending"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_pages.app), base_url="http://test",
                                 cookies={"eaflow_session": token}) as thief:
        assert (await thief.get("/")).status_code == 303
        assert (await thief.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await plain_pages.get(C1, "/")).status_code == 303
    assert outcomes(settings, C1)[-1] == "second_step"
    opened = await second_step(plain_pages, C1, code(secret))
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    assert (await plain_pages.get(C1, "/")).status_code == 200
    assert outcomes(settings, C1)[-1] == "success"
    with session_scope(settings.db_url) as session:  # the pending token is gone with the step
        kinds = [row.kind for row in session.exec(select(AccessToken).where(
            AccessToken.user_id == platform.counsellor)).all()]
    assert kinds == ["web"]


async def test_a_code_already_used_in_its_30_second_step_is_refused(plain_pages, settings):
    await plain_pages.sign_in(C1)
    secret, _ = await enrol(plain_pages, C1, steps_from_now=0)
    confirmed = CONFIRMATIONS[secret]  # the very code that confirmed the enrolment
    await sign_out(plain_pages, C1)
    await plain_pages.sign_in(C1)
    replayed = await second_step(plain_pages, C1, confirmed)
    assert replayed.status_code == 422 and "un code sert une fois" in unescape(replayed.text)
    assert "eaflow_session" not in plain_pages.client(C1).cookies
    ahead = code(secret, 1)  # the next step's code (the phone a little ahead), the same string twice below
    fresh = await second_step(plain_pages, C1, ahead)
    assert fresh.status_code == 303
    await sign_out(plain_pages, C1)
    await plain_pages.sign_in(C1)
    assert (await second_step(plain_pages, C1, ahead)).status_code == 422  # used just now


async def test_a_recovery_code_signs_in_once(plain_pages, settings):
    await plain_pages.sign_in(C1)
    _, codes = await enrol(plain_pages, C1)
    await sign_out(plain_pages, C1)
    await plain_pages.sign_in(C1)
    used = await second_step(plain_pages, C1, codes[3].upper().replace("-", " "))  # as typed off paper
    assert used.status_code == 303 and used.headers["location"] == "/securite?fait=secours"
    security = await plain_pages.get(C1, used.headers["location"])
    assert "code de secours" in unescape(security.text) and "9 sur 10" in unescape(security.text)
    await sign_out(plain_pages, C1)
    await plain_pages.sign_in(C1)
    assert (await second_step(plain_pages, C1, codes[3])).status_code == 422
    assert (await second_step(plain_pages, C1, codes[4])).status_code == 303


async def test_the_secret_and_recovery_codes_are_never_in_clear_in_the_database(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    secret, codes = await enrol(plain_pages, C1)
    with session_scope(settings.db_url) as session:
        factor = session.get(SecondFactor, platform.counsellor)
        stored = [row.code_hash for row in session.exec(select(RecoveryCode)).all()]
    assert factor.confirmed_at is not None and secret not in factor.secret_encrypted
    assert len(stored) == 10 and all(len(value) == 64 for value in stored)
    # Nowhere in the database file, in any form the person saw.
    raw = open(settings.db_url.removeprefix("sqlite:///"), "rb").read()
    for shown in [secret, *codes, *(c.replace("-", "") for c in codes)]:
        assert shown.encode() not in raw and shown.lower().encode() not in raw


async def test_new_recovery_codes_replace_the_old_ones_and_turning_off_needs_a_code(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    secret, old = await enrol(plain_pages, C1)
    refused = await plain_pages.submit(C1, "/securite/codes-de-secours", {"code": "123"}, page="/securite")
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    renewed = await plain_pages.submit(C1, "/securite/codes-de-secours", {"code": old[0]}, page="/securite")
    assert renewed.status_code == 200 and "les anciens ne fonctionnent plus" in unescape(renewed.text)
    new = RECOVERY.findall(renewed.text)
    assert len(new) == 10 and not set(new) & set(old)
    off = await plain_pages.submit(C1, "/securite/desactivation", {"code": code(secret)}, page="/securite")
    assert off.status_code == 303 and off.headers["location"] == "/securite?fait=desactivee"
    with session_scope(settings.db_url) as session:
        assert session.get(SecondFactor, platform.counsellor) is None
        assert session.exec(select(RecoveryCode)).all() == []
    await sign_out(plain_pages, C1)
    assert (await plain_pages.sign_in(C1)).headers["location"] == "/"  # the password suffices again


async def test_the_policy_makes_managers_enrol_before_any_page(managers_need_it, settings, platform):
    pages = managers_need_it
    signed = await pages.sign_in(MANAGER)
    assert signed.status_code == 303 and signed.headers["location"].startswith("/connexion/activation")
    for path in ("/", "/validations", "/securite", "/preferences"):  # nothing else opens before enrolling
        blocked = await pages.get(MANAGER, path)
        assert blocked.status_code == 303 and blocked.headers["location"].startswith("/connexion?"), path
    page = await pages.get(MANAGER, signed.headers["location"])
    assert page.status_code == 200 and "une double authentification pour votre rôle : activez-la" in unescape(page.text)
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    http = pages.client(MANAGER)
    wrong = await http.post("/connexion/activation", data={"code": "12345", "suivant": "/",
                                                           "csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 422 and "eaflow_session" not in http.cookies
    done = await http.post("/connexion/activation", data={"code": code(secret), "suivant": "/",
                                                          "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and len(RECOVERY.findall(done.text)) == 10
    assert (await pages.get(MANAGER, "/")).status_code == 200  # enrolled: the session is open
    # Required for the role: it cannot be turned off.
    security = await pages.get(MANAGER, "/securite")
    assert "ne peut pas être désactivée" in unescape(security.text) and "/securite/desactivation" not in security.text
    refused = await pages.submit(MANAGER, "/securite/desactivation", {"code": code(secret, 1)}, page="/securite")
    assert refused.status_code == 409
    # A counsellor's role is not concerned: the password suffices.
    assert (await pages.sign_in(C1)).headers["location"] == "/"


async def test_a_session_opened_before_the_policy_required_a_second_factor_stops(plain_pages, managers_need_it):
    await plain_pages.sign_in(MANAGER)  # under the national policy: the password sufficed
    cookie = plain_pages.client(MANAGER).cookies["eaflow_session"]
    assert (await plain_pages.get(MANAGER, "/")).status_code == 200
    token = (await plain_pages.api.http.post("/api/v1/auth/token", data={"username": MANAGER,
                                                                         "password": PASSWORD})).json()["access_token"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=managers_need_it.app), base_url="http://test",
                                 cookies={"eaflow_session": cookie}) as now_required:
        assert (await now_required.get("/")).status_code == 303
        assert (await now_required.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_an_administrator_resets_a_lost_second_factor_audited(plain_pages, settings, platform, admin_id):
    await plain_pages.sign_in(C1)
    await enrol(plain_pages, C1)
    await plain_pages.sign_in(ADMIN)
    account = f"/administration/comptes/{platform.counsellor}"
    page = await plain_pages.get(ADMIN, account)
    assert "Réinitialiser la double authentification" in unescape(page.text)
    reset = await plain_pages.submit(ADMIN, account + "/double-authentification", {}, page=account)
    assert reset.status_code == 303 and reset.headers["location"] == account + "?fait=double-authentification"
    assert "non activée" in unescape((await plain_pages.get(ADMIN, account)).text)
    with session_scope(settings.db_url) as session:
        assert session.get(SecondFactor, platform.counsellor) is None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "second_factor_reset")).one()
        assert event.actor_id == admin_id and event.detail["user_id"] == platform.counsellor
        assert event.detail["sessions_ended"] == 1
    assert (await plain_pages.get(C1, "/")).status_code == 303  # the session ended with it
    assert (await plain_pages.sign_in(C1, who="again")).headers["location"] == "/"
    # Nobody else reaches the reset.
    await plain_pages.sign_in(C2)
    assert (await plain_pages.submit(C2, account + "/double-authentification", {}, page="/")).status_code == 404


async def test_wrong_codes_count_in_the_sign_in_throttle(plain_pages, settings):
    await plain_pages.sign_in(C1)
    secret, _ = await enrol(plain_pages, C1)
    await sign_out(plain_pages, C1)
    await plain_pages.sign_in(C1)
    wrong = "000000" if code(secret) != "000000" else "111111"
    for _ in range(5):
        assert (await second_step(plain_pages, C1, wrong)).status_code == 422
    locked = await second_step(plain_pages, C1, code(secret))
    assert locked.status_code == 429 and 800 <= int(locked.headers["Retry-After"]) <= 900
    assert "Trop de tentatives de connexion" in unescape(locked.text)
    assert "eaflow_session" not in plain_pages.client(C1).cookies
    # The password alone does not clear the count: sign-in itself is locked for the account now.
    assert (await plain_pages.sign_in(C1, who="elsewhere")).status_code == 429
    assert outcomes(settings, C1)[-8:] == ["second_step"] + ["failure"] * 5 + ["throttled", "throttled"]


async def test_an_expired_pending_step_goes_back_to_the_password(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    secret, _ = await enrol(plain_pages, C1)
    await sign_out(plain_pages, C1)
    await plain_pages.sign_in(C1)
    form = await plain_pages.get(C1, "/connexion/code")
    with session_scope(settings.db_url) as session:
        row = session.exec(select(AccessToken).where(AccessToken.kind == "second_factor")).one()
        session.delete(row)
    late = await plain_pages.client(C1).post("/connexion/code", data={"code": code(secret), "suivant": "/",
                                                                      "csrf_token": csrf_of(form.text)})
    assert late.status_code == 303 and late.headers["location"].startswith("/connexion?")
    assert "eaflow_session" not in plain_pages.client(C1).cookies
    with session_scope(settings.db_url) as session:
        assert session.get(User, platform.counsellor).active
