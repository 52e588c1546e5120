"""The accounts and the mail preferences through the API: the same services as the pages, admin-only
where it applies, problem+json refusals naming the field (and the rule); on both databases."""
from __future__ import annotations

import re
from unittest import mock

import httpx
import pytest

from eaflow import accounts
from eaflow.app import create_app
from eaflow.store.db import session_scope
from tests.api.conftest import Api
from tests.conftest import PASSWORD, _password_hash

ADMIN, C1, MANAGER, PRESCRIBER = "admin@test.fr", "c1@test.fr", "manager@test.fr", "prescripteur@test.fr"
PROBLEM = "application/problem+json"


@pytest.fixture
async def api(settings, platform):
    """The API without Temporal: accounts and preferences need no workflow."""
    with session_scope(settings.db_url) as session, mock.patch.object(accounts, "hash_password", _password_hash):
        accounts.create_user(session, ADMIN, "admin", PASSWORD, platform_id=platform.platform_id,
                             display_name="Alex Admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://test",
                                 timeout=30) as http:
        yield Api(http)


async def test_only_an_administrator_lists_and_creates_accounts(api, platform):
    listed = await api.request("GET", "/api/v1/users", ADMIN)
    assert listed.status_code == 200
    emails = {u["email"]: u for u in listed.json()["items"]}
    assert set(emails) == {ADMIN, C1, "c2@test.fr", MANAGER, PRESCRIBER}
    assert emails[C1]["role"] == "counsellor" and emails[C1]["fte"] == 1.0 and emails[C1]["active"] is True
    assert emails[ADMIN]["last_sign_in"] is not None and emails[C1]["last_sign_in"] is None
    for who in (MANAGER, C1, PRESCRIBER):
        refused = await api.request("GET", "/api/v1/users", who)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
        assert (await api.request("POST", "/api/v1/users", who, json={"email": "x@test.fr", "name": "X",
                                                                      "role": "manager"})).status_code == 403


async def test_an_account_is_created_without_a_password_and_gets_its_link_by_mail(api, smtp_server):
    wrong = await api.request("POST", "/api/v1/users", ADMIN,
                              json={"email": "pas-une-adresse", "name": " ", "role": "chef", "fte": None})
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
    assert {e["field"] for e in wrong.json()["errors"]} == {"email", "name", "role"}
    no_fte = await api.request("POST", "/api/v1/users", ADMIN, json={"email": "n@test.fr", "name": "N", "role": "counsellor"})
    assert no_fte.status_code == 422 and [e["field"] for e in no_fte.json()["errors"]] == ["fte"]
    taken = await api.request("POST", "/api/v1/users", ADMIN, json={"email": "C1@test.fr", "name": "C", "role": "manager"})
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "email"

    created = await api.request("POST", "/api/v1/users", ADMIN,
                                json={"email": "Nadia.Lefevre@test.fr", "name": "Nadia Lefèvre", "role": "counsellor",
                                      "fte": 0.8})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["email"], body["role"], body["fte"], body["password_set"], body["password_link_sent"]) == (
        "nadia.lefevre@test.fr", "counsellor", 0.8, False, True)
    [mail] = await smtp_server.wait_for(1)
    assert mail["To"] == "nadia.lefevre@test.fr" and re.search(r"http://test/mot-de-passe/\S+", mail.get_content())
    one = await api.request("GET", f"/api/v1/users/{body['id']}", ADMIN)
    assert one.status_code == 200 and one.json()["name"] == "Nadia Lefèvre"


async def test_patch_changes_role_and_fte_and_disabling_revokes_every_token(api, platform, smtp_server):
    token = await api.login(C1)
    assert (await api.http.get("/api/v1/me", headers=token)).status_code == 200
    fte = await api.request("PATCH", f"/api/v1/users/{platform.counsellor}", ADMIN, json={"fte": 0})
    assert fte.status_code == 422 and fte.json()["errors"][0]["field"] == "fte"
    changed = await api.request("PATCH", f"/api/v1/users/{platform.counsellor}", ADMIN, json={"fte": 0.6})
    assert changed.status_code == 200 and changed.json()["fte"] == 0.6
    off = await api.request("PATCH", f"/api/v1/users/{platform.counsellor}", ADMIN, json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await api.http.get("/api/v1/me", headers=token)).status_code == 401
    refused = await api.http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})
    assert refused.status_code == 401
    reset = await api.request("POST", f"/api/v1/users/{platform.counsellor}/password-reset", ADMIN)
    assert reset.status_code == 409  # a disabled account gets no link
    me = (await api.request("GET", "/api/v1/me", ADMIN)).json()
    myself = await api.request("PATCH", f"/api/v1/users/{me['id']}", ADMIN, json={"active": False})
    assert myself.status_code == 409 and "propre compte" in myself.json()["detail"]
    assert (await api.request("PATCH", "/api/v1/users/u-nobody", ADMIN, json={"fte": 1})).status_code == 404
    assert (await api.request("PATCH", f"/api/v1/users/{platform.counsellor}", ADMIN,
                              json={"password_hash": "x"})).status_code == 422


async def test_a_password_reset_is_mailed_once_per_request(api, platform, smtp_server):
    sent = await api.request("POST", f"/api/v1/users/{platform.manager}/password-reset", ADMIN)
    assert sent.status_code == 202 and sent.json() == {"sent": True}
    [mail] = await smtp_server.wait_for(1)
    assert mail["To"] == MANAGER and "réinitialisation" in mail.get_content()
    assert (await api.request("POST", "/api/v1/users/u-nobody/password-reset", ADMIN)).status_code == 404
    smtp_server.stop()
    try:
        down = await api.request("POST", f"/api/v1/users/{platform.manager}/password-reset", ADMIN)
    finally:
        smtp_server.start()
    assert down.status_code == 503 and down.headers["content-type"] == PROBLEM
    assert len(smtp_server.messages) == 1


async def test_my_preferences_keep_the_mandatory_kinds(api):
    mine = await api.request("GET", "/api/v1/me/preferences", C1)
    assert mine.status_code == 200
    kinds = {k["kind"]: k for k in mine.json()["kinds"]}
    assert kinds["interview_to_plan"]["mandatory"] and kinds["interview_to_plan"]["rule"] == "R12"
    assert "exit_to_approve" not in kinds and mine.json()["digest_available"] is True
    mandatory = await api.request("PUT", "/api/v1/me/preferences", C1, json={"muted_kinds": ["interview_to_plan"]})
    assert mandatory.status_code == 422 and mandatory.json()["rule"] == "R12"
    unknown = await api.request("PUT", "/api/v1/me/preferences", C1, json={"muted_kinds": ["exit_to_approve"]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "muted_kinds"
    saved = await api.request("PUT", "/api/v1/me/preferences", C1,
                              json={"muted_kinds": ["relaunch_attempt"], "digest_instead": True})
    assert saved.status_code == 200 and saved.json()["digest_instead"] is True
    assert {k["kind"]: k["receive"] for k in saved.json()["kinds"]}["relaunch_attempt"] is False
    manager = await api.request("PUT", "/api/v1/me/preferences", MANAGER, json={"digest_instead": True})
    assert manager.status_code == 422 and manager.json()["errors"][0]["field"] == "digest_instead"
    for who in (PRESCRIBER, ADMIN):
        assert (await api.request("GET", "/api/v1/me/preferences", who)).status_code == 403


async def test_sign_out_revokes_the_token_and_an_admin_ends_every_session_of_an_account(api, platform, settings):
    token = await api.login(C1)
    assert (await api.http.post("/api/v1/auth/logout", headers=token)).status_code == 204
    assert (await api.http.get("/api/v1/me", headers=token)).status_code == 401  # that token is over
    assert (await api.http.post("/api/v1/auth/logout")).status_code == 401
    # Two API tokens and a web session of the same account: the administrator ends them all at once.
    tokens = [await api.http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})
              for _ in range(2)]
    bearers = [{"Authorization": f"Bearer {t.json()['access_token']}"} for t in tokens]
    from eaflow.services import sessions
    web = sessions.sign_in(settings, C1, PASSWORD, address="127.0.0.1", via="web").token
    assert (await api.http.post(f"/api/v1/users/{platform.counsellor}/sessions/revoke",
                                headers=bearers[0])).status_code == 403
    ended = await api.request("POST", f"/api/v1/users/{platform.counsellor}/sessions/revoke", ADMIN)
    assert ended.status_code == 200 and ended.json()["sessions_ended"] == 3
    for bearer in bearers:
        assert (await api.http.get("/api/v1/me", headers=bearer)).status_code == 401
    assert sessions.user_for_token(settings, web, "web") is None
    # The account stays active: signing in again works.
    assert (await api.http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})).status_code == 200
    assert (await api.request("POST", "/api/v1/users/u-nobody/sessions/revoke", ADMIN)).status_code == 404


async def test_an_api_token_ends_after_its_idle_timeout_and_its_lifetime(api, settings):
    from datetime import datetime, timedelta, timezone

    from eaflow.services.sessions import token_hash
    from eaflow.store.models import AccessToken

    def shift(bearer: dict, **fields) -> None:
        with session_scope(settings.db_url) as session:
            row = session.get(AccessToken, token_hash(bearer["Authorization"].removeprefix("Bearer ")))
            assert row.kind == "api"
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(row)

    now = datetime.now(timezone.utc)
    token = await api.login(C1)
    with session_scope(settings.db_url) as session:  # the policy's lifetime (PT12H) from now
        row = session.get(AccessToken, token_hash(token["Authorization"].removeprefix("Bearer ")))
        assert row.expires_at - row.created_at == timedelta(hours=12)
    shift(token, last_used_at=now - timedelta(minutes=59))  # used within the hour (policy: PT1H): still good
    assert (await api.http.get("/api/v1/me", headers=token)).status_code == 200
    shift(token, last_used_at=now - timedelta(minutes=61))  # that request touched it; now an hour without one
    assert (await api.http.get("/api/v1/me", headers=token)).status_code == 401
    again = await api.http.post("/api/v1/auth/token", data={"username": C1, "password": PASSWORD})
    token = {"Authorization": f"Bearer {again.json()['access_token']}"}
    shift(token, expires_at=now - timedelta(seconds=1))  # in use, but past its lifetime
    assert (await api.http.get("/api/v1/me", headers=token)).status_code == 401
