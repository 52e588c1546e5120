""""Mes préférences": a counsellor turns mails off kind by kind and may read their tasks in the weekly
digest; the mandatory kinds are listed with their rule and cannot be turned off; a manager has no
digest choice; anyone else gets the French 404 page."""
from __future__ import annotations

from html import unescape

from sqlmodel import select

from eaflow.store.accounts import MailPreference
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent

C1, MANAGER, PRESCRIBER = "c1@test.fr", "manager@test.fr", "prescripteur@test.fr"


async def test_a_counsellor_saves_and_sees_their_preferences(plain_pages, settings, platform):
    await plain_pages.sign_in(C1)
    page = await plain_pages.get(C1, "/preferences")
    assert page.status_code == 200
    text = unescape(page.text)
    assert 'aria-current="page"' in page.text and "<legend>Les courriels que vous recevez</legend>" in text
    assert 'id="f-receive-convention_to_draft" name="receive" value="convention_to_draft" checked' in text
    assert "Entretien trimestriel à tenir <span class=\"muted\">(règle R12)</span>" in text  # mandatory: listed
    assert 'value="interview_to_plan"' not in text  # … and no box to uncheck
    assert "Proposition de sortie à valider" not in text  # a manager's mail
    assert 'id="f-digest_instead-non" name="digest_instead" value="non" checked' in text

    received = [("receive", kind) for kind in ("admission_counsellor", "exit_rejected", "veille_ending")]
    saved = await plain_pages.submit(C1, "/preferences", [*received, ("digest_instead", "oui")])
    assert saved.status_code == 303 and saved.headers["location"] == "/preferences?fait=1"
    shown = unescape((await plain_pages.get(C1, saved.headers["location"])).text)
    assert "Vos préférences sont enregistrées." in shown
    assert 'value="convention_to_draft">' in shown and 'value="convention_to_draft" checked' not in shown
    assert 'value="veille_ending" checked' in shown
    assert 'id="f-digest_instead-oui" name="digest_instead" value="oui" checked' in shown
    with session_scope(settings.db_url) as session:
        row = session.get(MailPreference, platform.counsellor)
        assert row.digest_instead is True and "convention_to_draft" in row.muted_kinds
        assert "interview_to_plan" not in row.muted_kinds and "veille_ending" not in row.muted_kinds
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "mail_preferences_changed")).all()
        assert event.actor_id == platform.counsellor and event.journey_id is None


async def test_a_manager_chooses_their_mails_without_a_digest(plain_pages, settings, platform):
    await plain_pages.sign_in(MANAGER)
    page = unescape((await plain_pages.get(MANAGER, "/preferences")).text)
    assert "Comment recevoir vos tâches" not in page and "Personne en attente d'un conseiller" in page
    for rule in ("R2", "R12", "R18"):
        assert f"(règle {rule})" in page
    saved = await plain_pages.submit(MANAGER, "/preferences", [("receive", "assignment_reminder"),
                                                                ("digest_instead", "oui")])
    assert saved.status_code == 422  # no digest holds a manager's tasks
    assert 'href="#f-digest_instead"' in saved.text and "n'est envoyé qu'aux conseillers" in unescape(saved.text)
    with session_scope(settings.db_url) as session:
        assert session.get(MailPreference, platform.manager) is None  # nothing written
    saved = await plain_pages.submit(MANAGER, "/preferences", [("receive", "assignment_reminder")])
    assert saved.status_code == 303
    with session_scope(settings.db_url) as session:
        muted = session.get(MailPreference, platform.manager).muted_kinds
    assert "assignment_needed" in muted and "assignment_reminder" not in muted and "exit_to_approve" not in muted


async def test_the_preferences_are_the_staffs_only(plain_pages):
    await plain_pages.sign_in(PRESCRIBER)
    page = await plain_pages.get(PRESCRIBER, "/preferences")
    assert page.status_code == 404 and "Page introuvable" in page.text
    assert (await plain_pages.get("anonymous", "/preferences")).status_code == 303
