"""/administration: administrators only (a French 404 for everyone else); accounts created without a
password and given a one-use link by mail (real SMTP server), role and FTE changed, an account disabled
with every session and token ended at once, a reset link that works once, the platform's details, the
policy in French words; every action in the audit trail."""
from __future__ import annotations

import re
from html import unescape
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from sqlmodel import select

from eaflow import accounts
from eaflow.services.admin_audit import ACTIONS
from eaflow.store.accounts import PasswordLink
from eaflow.store.db import session_scope
from eaflow.store.models import AccessToken, AuditEvent, Platform, User
from tests.conftest import PASSWORD, _password_hash
from tests.web.conftest import csrf_of

ADMIN, C1, MANAGER, PRESCRIBER = "admin@test.fr", "c1@test.fr", "manager@test.fr", "prescripteur@test.fr"
NEW = "nadia.lefevre@test.fr"
NEW_PASSWORD = "une phrase assez longue"
ADMIN_PAGES = ("/administration", "/administration/comptes/nouveau", "/administration/plateforme",
               "/administration/politique", "/administration/comptes/{counsellor}")
LINK = re.compile(r"http://test(/mot-de-passe/[A-Za-z0-9_-]+)")


@pytest.fixture
def admin_id(settings, platform) -> str:
    with session_scope(settings.db_url) as session, mock.patch.object(accounts, "hash_password", _password_hash):
        return accounts.create_user(session, ADMIN, "admin", PASSWORD, platform_id=platform.platform_id,
                                    display_name="Alex Admin").id


def audit(settings, *actions: str) -> list[AuditEvent]:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action.in_(actions or ACTIONS))
                                 .order_by(AuditEvent.id)).all())


def link_of(message) -> str:
    found = LINK.search(message.get_content())
    assert found, message.get_content()
    return found.group(1)


async def set_password(pages, who: str, path: str, password: str, confirmation: str | None = None):
    http = pages.client(who)
    form = await http.get(path)
    assert form.status_code == 200, form.text
    return await http.post(path, data={"password": password, "confirmation": confirmation or password,
                                       "csrf_token": csrf_of(form.text)})


@pytest.mark.parametrize("email", [C1, MANAGER, PRESCRIBER])
async def test_only_administrators_get_the_administration_pages(plain_pages, platform, admin_id, email):
    await plain_pages.sign_in(email)
    for page in ADMIN_PAGES:
        response = await plain_pages.get(email, page.format(counsellor=platform.counsellor))
        assert response.status_code == 404 and "Page introuvable" in unescape(response.text), (email, page)
    refused = await plain_pages.submit(email, "/administration/plateforme", {"name": "Pirate"}, page="/administration")
    assert refused.status_code == 404
    with session_scope(plain_pages.app.state.settings.db_url) as session:
        assert session.get(Platform, platform.platform_id).name == "Plateforme d'Ille-et-Vilaine"


async def test_the_administrator_sees_the_accounts_the_platform_and_the_policy(plain_pages, platform, admin_id):
    anonymous = await plain_pages.get("nobody", "/administration")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/connexion")
    signed = await plain_pages.sign_in(ADMIN)
    assert signed.headers["location"] == "/"
    home = await plain_pages.get(ADMIN, "/administration")
    assert home.status_code == 200
    for seen in ("Camille Conseil", "c1@test.fr", "Conseiller ou conseillère en emploi accompagné", "Responsable de la plateforme",
                 "Prescripteur ou prescriptrice", "Association Trajectoires 35", "plateforme35@test.fr", '<th scope="col">'):
        assert seen in unescape(home.text), seen
    assert "jamais" in unescape(home.text)  # the counsellors never signed in; the administrator did just now
    policy = await plain_pages.get(ADMIN, "/administration/politique")
    assert policy.status_code == 200
    for seen in ("tous les 3 mois", "48 heures", "tous les 7 jours", "6 mois, 3 mois et 1 mois avant la fin",
                 "R12 : entretien avec la personne", "valeurs nationales par défaut", "password_link_validity"):
        assert seen in unescape(policy.text), seen
    assert policy.headers["content-security-policy"].startswith("default-src 'self'")


async def test_a_new_account_gets_a_one_use_link_by_mail_and_chooses_its_password(
        plain_pages, settings, platform, admin_id, smtp_server):
    await plain_pages.sign_in(ADMIN)
    wrong = await plain_pages.submit(ADMIN, "/administration/comptes",
                                     {"name": "Nadia Lefèvre", "email": "nadia@", "role": "counsellor", "fte": ""},
                                     page="/administration/comptes/nouveau")
    assert wrong.status_code == 422
    assert "Le formulaire contient 2 erreurs" in unescape(wrong.text) and 'href="#f-email"' in unescape(wrong.text)
    assert 'id="f-fte-error"' in unescape(wrong.text) and "capacité d'accompagnement (R7)" in unescape(wrong.text)
    assert 'value="Nadia Lefèvre"' in unescape(wrong.text) and 'value="nadia@"' in unescape(wrong.text)  # what was typed is kept
    taken = await plain_pages.submit(ADMIN, "/administration/comptes",
                                     {"name": "Autre", "email": "C1@test.fr", "role": "manager", "fte": ""},
                                     page="/administration/comptes/nouveau")
    assert taken.status_code == 409 and "Un compte existe déjà avec cette adresse." in unescape(taken.text)
    assert smtp_server.messages == []

    created = await plain_pages.submit(ADMIN, "/administration/comptes",
                                       {"name": "Nadia Lefèvre", "email": NEW, "role": "counsellor", "fte": "0,8"},
                                       page="/administration/comptes/nouveau")
    assert created.status_code == 303 and created.headers["location"].endswith("?fait=cree")
    shown = await plain_pages.get(ADMIN, created.headers["location"])
    assert "Le compte est créé. Un lien pour choisir son mot de passe" in unescape(shown.text) and "pas encore choisi" in unescape(shown.text)
    [mail] = await smtp_server.wait_for(1)
    assert mail["To"] == NEW and mail["Subject"] == "Votre compte eaflow : choisissez votre mot de passe"
    assert mail["Message-ID"].endswith("@eaflow>") and "valable 48 heures" in mail.get_content()
    with session_scope(settings.db_url) as session:
        user = session.exec(select(User).where(User.email == NEW)).one()
        assert (user.role, user.fte, user.password_hash, user.platform_id) == ("counsellor", 0.8, "", platform.platform_id)
        [link] = session.exec(select(PasswordLink).where(PasswordLink.user_id == user.id)).all()
        assert link.token_hash not in mail.get_content()  # only the hash is kept, never the token
    assert (await plain_pages.sign_in(NEW, "", who="new")).status_code == 401  # no password yet

    path = link_of(mail)
    page = await plain_pages.get("new", path)
    assert page.status_code == 200 and NEW in unescape(page.text)
    assert page.headers["referrer-policy"] == "no-referrer" and "frame-ancestors 'none'" in page.headers[
        "content-security-policy"]
    cookie = next(v for k, v in page.headers.multi_items() if k == "set-cookie" and "eaflow_csrf=" in v)
    assert "Path=/mot-de-passe/" in cookie and "HttpOnly" in cookie
    second_tab = await plain_pages.get("second-tab", path)  # the same link opened twice
    short = await set_password(plain_pages, "new", path, "trop court", "trop court")
    assert short.status_code == 422 and "au moins 12 caractères" in unescape(short.text) and 'id="f-password-error"' in unescape(short.text)
    common = await set_password(plain_pages, "new", path, "Motdepasse2024!")
    assert common.status_code == 422 and "fait partie des plus utilisés" in unescape(common.text)
    personal = await set_password(plain_pages, "new", path, NEW.split("@")[0] + " et moi")
    assert personal.status_code == 422 and "ni votre nom ni votre adresse" in unescape(personal.text)
    different = await set_password(plain_pages, "new", path, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert different.status_code == 422 and 'href="#f-confirmation"' in unescape(different.text)
    done = await set_password(plain_pages, "new", path, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/mot-de-passe/enregistre"
    assert "Mot de passe enregistré" in unescape((await plain_pages.get("new", done.headers["location"])).text)
    again = await plain_pages.get("new", path)
    assert again.status_code == 410 and "Ce lien a déjà servi" in unescape(again.text)
    replayed = await plain_pages.client("second-tab").post(path, data={
        "password": "encore une autre phrase", "confirmation": "encore une autre phrase",
        "csrf_token": csrf_of(second_tab.text)})
    assert replayed.status_code == 410 and "Ce lien a déjà servi" in unescape(replayed.text)
    assert (await plain_pages.sign_in(NEW, NEW_PASSWORD, who="nadia")).status_code == 303
    assert (await plain_pages.get("nadia", "/")).status_code == 200
    assert [e.action for e in audit(settings)] == ["user_created", "password_link_sent", "password_set"]
    assert all(e.journey_id is None and e.detail["platform_id"] == platform.platform_id for e in audit(settings))
    assert len(smtp_server.messages) == 1  # one mail, never twice


async def test_the_password_form_refuses_a_post_without_its_cookie(plain_pages, settings, platform, admin_id,
                                                                   smtp_server):
    await plain_pages.sign_in(ADMIN)
    await plain_pages.submit(ADMIN, f"/administration/comptes/{platform.counsellor}/lien", {},
                             page=f"/administration/comptes/{platform.counsellor}")
    [mail] = await smtp_server.wait_for(1)
    path = link_of(mail)
    page = await plain_pages.get("holder", path)
    forged = await plain_pages.client("attacker").post(path, data={
        "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "csrf_token": csrf_of(page.text)})
    assert forged.status_code == 403
    assert (await plain_pages.get("holder", path)).status_code == 200  # the link still works
    unknown = await plain_pages.get("holder", "/mot-de-passe/pas-un-vrai-lien")
    assert unknown.status_code == 404 and "Ce lien n'est pas valable" in unescape(unknown.text)


async def test_disabling_an_account_ends_its_sessions_and_tokens_at_once(plain_pages, settings, platform, admin_id):
    await plain_pages.sign_in(C1)
    assert (await plain_pages.get(C1, "/")).status_code == 200
    token = await plain_pages.api.login(C1)
    assert (await plain_pages.api.http.get("/api/v1/me", headers=token)).status_code == 200
    await plain_pages.sign_in(ADMIN)
    user_page = f"/administration/comptes/{platform.counsellor}"
    disabled = await plain_pages.submit(ADMIN, f"{user_page}/desactiver", {}, page=user_page)
    assert disabled.status_code == 303 and disabled.headers["location"].endswith("?fait=desactive")
    assert "toutes ses sessions et ses jetons d'accès ont pris fin" in unescape(
        (await plain_pages.get(ADMIN, disabled.headers["location"])).text)
    with session_scope(settings.db_url) as session:
        assert session.exec(select(AccessToken).where(AccessToken.user_id == platform.counsellor)).all() == []
    gone = await plain_pages.get(C1, "/personnes")  # the counsellor's open page: the sign-in page
    assert gone.status_code == 303 and gone.headers["location"].startswith("/connexion?suivant=")
    assert (await plain_pages.api.http.get("/api/v1/me", headers=token)).status_code == 401
    assert (await plain_pages.sign_in(C1, who="c1-again")).status_code == 401
    listed = await plain_pages.get(ADMIN, "/administration")
    assert "Désactivé" in unescape(listed.text)

    myself = await plain_pages.submit(ADMIN, f"/administration/comptes/{admin_id}/desactiver", {},
                                      page=f"/administration/comptes/{admin_id}")
    assert myself.status_code == 409 and "Vous ne pouvez pas désactiver votre propre compte" in unescape(myself.text)
    enabled = await plain_pages.submit(ADMIN, f"{user_page}/reactiver", {}, page=user_page)
    assert enabled.status_code == 303
    assert (await plain_pages.sign_in(C1, who="c1-back")).status_code == 303
    [off, on] = audit(settings, "user_disabled", "user_enabled")
    assert (off.action, off.actor_id, off.detail["user_id"], off.detail["sessions_ended"]) == (
        "user_disabled", admin_id, platform.counsellor, 2)
    assert on.action == "user_enabled"


async def test_role_and_fte_change_with_the_rules_of_the_accounts(plain_pages, settings, platform, admin_id):
    await plain_pages.sign_in(ADMIN)
    page = f"/administration/comptes/{platform.counsellor2}"
    wrong = await plain_pages.submit(ADMIN, page, {"role": "counsellor", "fte": "1,5"})
    assert wrong.status_code == 422 and 'value="1,5"' in unescape(wrong.text) and 'aria-invalid="true"' in unescape(wrong.text)
    changed = await plain_pages.submit(ADMIN, page, {"role": "counsellor", "fte": "0,5"})
    assert changed.status_code == 303
    assert "Les changements du compte sont enregistrés." in unescape((await plain_pages.get(ADMIN, changed.headers["location"])).text)
    promoted = await plain_pages.submit(ADMIN, page, {"role": "manager", "fte": "0,5"})
    assert promoted.status_code == 303
    with session_scope(settings.db_url) as session:
        user = session.get(User, platform.counsellor2)
        assert (user.role, user.fte) == ("manager", 0.5)
    mine = await plain_pages.submit(ADMIN, f"/administration/comptes/{admin_id}", {"role": "manager", "fte": ""})
    assert mine.status_code == 409 and "Vous ne pouvez pas changer votre propre rôle" in unescape(mine.text)
    [first, second] = audit(settings, "user_changed")
    assert first.detail["changes"] == {"fte": [0.05, 0.5]} and second.detail["changes"] == {"role": ["counsellor", "manager"]}
    other = await plain_pages.get(ADMIN, "/administration/comptes/u-of-no-platform")
    assert other.status_code == 404


async def test_r8_a_counsellor_with_persons_keeps_their_role_until_they_are_entrusted_to_another(
        plain_pages, settings, platform, admin_id):
    from eaflow.intake import IntakeRequest, record_prescription
    from tests.api.test_journeys_and_inbox import intake

    with session_scope(settings.db_url) as session:
        journey = record_prescription(session, "j-admin", IntakeRequest.model_validate(intake()), platform.platform_id,
                                      platform.prescriber)
        journey.state, journey.counsellor_id = "accompaniment", platform.counsellor
        session.add(journey)
    await plain_pages.sign_in(ADMIN)
    page = f"/administration/comptes/{platform.counsellor}"
    assert "Ce conseiller accompagne encore 1 personne" in unescape((await plain_pages.get(ADMIN, page)).text)
    refused = await plain_pages.submit(ADMIN, page, {"role": "manager", "fte": "1"})
    assert refused.status_code == 409 and "(R8)" in unescape(refused.text)


async def test_a_reset_link_leaves_the_password_until_it_is_used_and_then_ends_every_session(
        plain_pages, settings, platform, admin_id, smtp_server):
    await plain_pages.sign_in(C1)
    await plain_pages.sign_in(ADMIN)
    page = f"/administration/comptes/{platform.counsellor}"
    for _ in range(2):  # the second link replaces the first
        sent = await plain_pages.submit(ADMIN, f"{page}/lien", {}, page=page)
        assert sent.status_code == 303 and sent.headers["location"].endswith("?fait=lien")
    first, second = await smtp_server.wait_for(2)
    assert first["Subject"] == "Votre compte eaflow : choisissez un nouveau mot de passe"
    assert first["Message-ID"] != second["Message-ID"]
    assert "votre mot de passe actuel reste valable" in first.get_content()
    replaced = await plain_pages.get("holder", link_of(first))
    assert replaced.status_code == 410 and "remplacé par un lien plus récent" in unescape(replaced.text)
    assert (await plain_pages.get(C1, "/")).status_code == 200  # nothing changed yet for the counsellor
    assert (await plain_pages.sign_in(C1, who="c1-before")).status_code == 303

    done = await set_password(plain_pages, "holder", link_of(second), NEW_PASSWORD)
    assert done.status_code == 303
    assert (await plain_pages.get(C1, "/")).status_code == 303  # every session of the counsellor ended
    assert (await plain_pages.sign_in(C1, who="old")).status_code == 401
    assert (await plain_pages.sign_in(C1, NEW_PASSWORD, who="new")).status_code == 303
    [event] = audit(settings, "password_set")
    assert event.actor_kind == "link" and event.detail["sessions_ended"] == 2


async def test_an_expired_link_or_one_of_a_disabled_account_sets_nothing(plain_pages, settings, platform, admin_id,
                                                                         smtp_server):
    await plain_pages.sign_in(ADMIN)
    page = f"/administration/comptes/{platform.counsellor}"
    await plain_pages.submit(ADMIN, f"{page}/lien", {}, page=page)
    [mail] = await smtp_server.wait_for(1)
    path = link_of(mail)
    form = await plain_pages.get("holder", path)
    with session_scope(settings.db_url) as session:
        link = session.exec(select(PasswordLink)).one()
        assert link.expires_at.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc) > timedelta(hours=47)
        link.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        session.add(link)
    late = await plain_pages.client("holder").post(path, data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD,
                                                               "csrf_token": csrf_of(form.text)})
    assert late.status_code == 410 and "Ce lien a expiré" in unescape(late.text)
    await plain_pages.submit(ADMIN, f"{page}/lien", {}, page=page)
    [_, fresh] = await smtp_server.wait_for(2)
    await plain_pages.submit(ADMIN, f"{page}/desactiver", {}, page=page)
    closed = await plain_pages.get("holder", link_of(fresh))
    assert closed.status_code == 410 and "Ce compte est désactivé" in unescape(closed.text)
    refused = await plain_pages.submit(ADMIN, f"{page}/lien", {}, page=page)
    assert refused.status_code == 409 and "réactivez-le" in unescape(refused.text)
    assert (await plain_pages.sign_in(C1, who="c1")).status_code == 401


async def test_a_link_that_cannot_be_mailed_is_said_so(plain_pages, settings, platform, admin_id, smtp_server):
    await plain_pages.sign_in(ADMIN)
    smtp_server.stop()
    try:
        created = await plain_pages.submit(ADMIN, "/administration/comptes",
                                           {"name": "Nadia Lefèvre", "email": NEW, "role": "manager", "fte": ""},
                                           page="/administration/comptes/nouveau")
        assert created.status_code == 303 and created.headers["location"].endswith("?fait=cree-sans-courriel")
        assert "le courriel n'a pas pu partir" in unescape((await plain_pages.get(ADMIN, created.headers["location"])).text)
    finally:
        smtp_server.start()
    user_page = created.headers["location"].split("?")[0]
    resent = await plain_pages.submit(ADMIN, f"{user_page}/lien", {}, page=user_page)
    assert resent.headers["location"].endswith("?fait=lien")
    [mail] = await smtp_server.wait_for(1)
    assert mail["To"] == NEW


async def test_the_platforms_details_are_edited_with_their_errors_beside_the_fields(plain_pages, settings, platform,
                                                                                    admin_id):
    await plain_pages.sign_in(ADMIN)
    wrong = await plain_pages.submit(ADMIN, "/administration/plateforme",
                                     {"name": "", "operator": "Trajectoires", "mailbox": "pas une adresse"})
    assert wrong.status_code == 422 and 'href="#f-name"' in unescape(wrong.text) and 'id="f-mailbox-error"' in unescape(wrong.text)
    assert 'value="pas une adresse"' in unescape(wrong.text) and 'value="Trajectoires"' in unescape(wrong.text)
    saved = await plain_pages.submit(ADMIN, "/administration/plateforme",
                                     {"name": "Plateforme emploi accompagné 35", "operator": "Trajectoires 35",
                                      "mailbox": "Contact@Plateforme35.fr"})
    assert saved.status_code == 303 and saved.headers["location"] == "/administration?fait=plateforme"
    shown = await plain_pages.get(ADMIN, saved.headers["location"])
    assert "Les informations de la plateforme sont enregistrées." in unescape(shown.text) and "contact@plateforme35.fr" in unescape(shown.text)
    with session_scope(settings.db_url) as session:
        saved_platform = session.get(Platform, platform.platform_id)
        assert (saved_platform.name, saved_platform.department) == ("Plateforme emploi accompagné 35", "35")
    [event] = audit(settings, "platform_changed")
    assert event.detail["changes"]["mailbox"] == ["plateforme35@test.fr", "contact@plateforme35.fr"]


async def test_the_admin_ends_every_session_of_an_account_from_its_page(plain_pages, settings, platform, admin_id):
    await plain_pages.sign_in(C1)
    assert (await plain_pages.get(C1, "/")).status_code == 200
    await plain_pages.sign_in(ADMIN)
    page = await plain_pages.get(ADMIN, f"/administration/comptes/{platform.counsellor}")
    assert "Mettre fin à toutes ses sessions" in page.text
    done = await plain_pages.submit(ADMIN, f"/administration/comptes/{platform.counsellor}/sessions", {},
                                    page=f"/administration/comptes/{platform.counsellor}")
    assert done.status_code == 303
    after = await plain_pages.get(ADMIN, done.headers["location"])
    assert "devra se reconnecter" in after.text
    # The counsellor's open page now sends them to the sign-in page.
    assert (await plain_pages.get(C1, "/")).headers.get("location", "").startswith("/connexion")
    assert audit(settings, "sessions_ended")[-1].detail["sessions_ended"] == 1
    assert (await plain_pages.get(ADMIN, "/")).status_code in (200, 303)  # the admin's own session goes on
