"""The second factor through the API: `POST /api/v1/auth/token` takes the code in the field `otp`.
Without it or with a wrong one: 401 problem+json naming `otp`; a code or a recovery code once only; a
role the policy requires a factor of, not enrolled: 403 telling them to enrol in the pages; wrong codes
counted by the sign-in throttle (429)."""
from __future__ import annotations

import time

import httpx
import pyotp
import pytest

from eaflow.app import create_app
from eaflow.services import second_factor
from eaflow.store.db import session_scope
from eaflow.store.models import User
from tests.conftest import PASSWORD, with_policy

C1, MANAGER = "c1@test.fr", "manager@test.fr"
TOKEN = "/api/v1/auth/token"


@pytest.fixture
async def http(settings, platform):
    """The API without Temporal: signing in needs only the database."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)),
                                 base_url="http://test") as client:
        yield client


def enrolled(settings, user_id: str) -> tuple[str, list[str]]:
    """The user turns the factor on (the service the page calls), confirmed with the previous step's code."""
    with session_scope(settings.db_url) as session:
        user = session.get(User, user_id)
        session.expunge(user)
    secret = second_factor.start_enrolment(settings, user)["secret"].replace(" ", "")
    codes = second_factor.confirm_enrolment(settings, user, pyotp.TOTP(secret).at(time.time() - 30),
                                            address="192.0.2.1")
    return secret, codes


def now_code(secret: str, steps_from_now: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


def problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


async def test_a_token_needs_the_code_in_otp_and_a_code_works_once(http, settings, platform):
    secret, _ = enrolled(settings, platform.counsellor)
    missing = problem(await http.post(TOKEN, data={"username": C1, "password": PASSWORD}), 401)
    assert "otp" in missing["detail"] and missing["errors"][0]["field"] == "otp"
    wrong = "000000" if now_code(secret) != "000000" else "111111"
    refused = problem(await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": wrong}), 401)
    assert "n'est pas valable" in refused["detail"] and refused["errors"][0]["field"] == "otp"
    good = now_code(secret)
    signed = await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": good})
    assert signed.status_code == 200, signed.text
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == C1
    replayed = await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": good})
    assert problem(replayed, 401)["errors"][0]["field"] == "otp"
    # The wrong password is still the same 401 as for anyone, before any question of code.
    assert problem(await http.post(TOKEN, data={"username": C1, "password": "non", "otp": good}), 401)[
        "detail"] == "Adresse électronique ou mot de passe incorrect."


async def test_a_recovery_code_gives_one_token(http, settings, platform):
    _, codes = enrolled(settings, platform.counsellor)
    first = await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": codes[0]})
    assert first.status_code == 200, first.text
    assert problem(await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": codes[0]}), 401)


async def test_a_role_that_requires_a_second_factor_enrols_in_the_pages_first(settings, platform, tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[accounts]\nsecond_factor_roles = ["manager", "admin"]\n')
    app = create_app(with_policy(settings, path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        refused = problem(await http.post(TOKEN, data={"username": MANAGER, "password": PASSWORD}), 403)
        assert "espace de travail" in refused["detail"] and refused["second_factor"] == "enrol"
        # Other roles are not concerned.
        assert (await http.post(TOKEN, data={"username": C1, "password": PASSWORD})).status_code == 200
        secret, _ = enrolled(with_policy(settings, path), platform.manager)
        signed = await http.post(TOKEN, data={"username": MANAGER, "password": PASSWORD, "otp": now_code(secret)})
        assert signed.status_code == 200, signed.text


async def test_wrong_codes_are_failures_of_the_sign_in_throttle(http, settings, platform):
    secret, _ = enrolled(settings, platform.counsellor)
    wrong = "000000" if now_code(secret) != "000000" else "111111"
    for _ in range(5):
        assert (await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": wrong})).status_code == 401
    locked = await http.post(TOKEN, data={"username": C1, "password": PASSWORD, "otp": now_code(secret)})
    assert "Trop de tentatives" in problem(locked, 429)["detail"] and 800 <= int(locked.headers["Retry-After"]) <= 900


def test_the_policy_names_roles_that_exist_and_refuses_others():
    from eaflow.accounts import ROLES
    from eaflow.policy import ACCOUNT_ROLES, NATIONAL_DEFAULTS, Policy

    assert ACCOUNT_ROLES == ROLES  # the policy's copy (the workflows do not import the store)
    assert NATIONAL_DEFAULTS.accounts.second_factor_roles == []  # nobody is made to enrol by default
    assert Policy.model_validate({"accounts": {"second_factor_roles": ["manager", "admin"]}})
    with pytest.raises(ValueError, match="unknown role"):
        Policy.model_validate({"accounts": {"second_factor_roles": ["directeur"]}})
