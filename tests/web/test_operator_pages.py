"""The operators on the pages (issue 13): the administrator adds a co-porteur and attaches accounts to
it; a co-porteur's manager sees their operator's counsellors only; the chef de file's manager chooses
the indicators' perimeter. The same services as tests/api/test_operators.py."""
from __future__ import annotations

from html import unescape

from eaflow import accounts
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, User
from sqlmodel import select
from tests.web.test_admin_pages import ADMIN, MANAGER, admin_id  # noqa: F401  (fixture)


def text(response) -> str:
    return unescape(response.text)


async def test_operators_the_admin_adds_a_co_porteur_and_attaches_a_counsellor(plain_pages, settings, platform,
                                                                                admin_id):  # noqa: F811
    await plain_pages.sign_in(ADMIN)
    page = await plain_pages.get(ADMIN, "/administration/plateforme")
    assert "Opérateurs de la plateforme" in text(page) and "Chef de file" in text(page)
    assert "Association Trajectoires 35" in text(page)
    # One operator only: the account forms offer no choice.
    assert 'name="operator"' not in (await plain_pages.get(ADMIN, "/administration/comptes/nouveau")).text

    empty = await plain_pages.submit(ADMIN, "/administration/operateurs", {"operator_name": "  "},
                                     page="/administration/plateforme")
    assert empty.status_code == 422 and "Indiquez le nom de l'opérateur." in text(empty)
    assert 'id="f-operator_name-error"' in empty.text  # the message sits beside its field
    added = await plain_pages.submit(ADMIN, "/administration/operateurs", {"operator_name": "Handi-Emploi Sud"},
                                     page="/administration/plateforme")
    assert added.status_code == 303
    after = await plain_pages.get(ADMIN, added.headers["location"])
    assert "L'opérateur est ajouté" in text(after) and "Handi-Emploi Sud" in text(after) and "Co-porteur" in text(after)
    again = await plain_pages.submit(ADMIN, "/administration/operateurs", {"operator_name": "HANDI-EMPLOI SUD"},
                                     page="/administration/plateforme")
    assert again.status_code == 422 and "existe déjà" in text(again)

    with session_scope(settings.db_url) as session:
        operator_b = next(row.detail["operator_id"] for row in session.exec(
            select(AuditEvent).where(AuditEvent.action == "operator_added")))
    form = await plain_pages.get(ADMIN, f"/administration/comptes/{platform.counsellor}")
    assert 'name="operator"' in form.text and "Handi-Emploi Sud" in text(form)
    moved = await plain_pages.submit(ADMIN, f"/administration/comptes/{platform.counsellor}",
                                     {"role": "counsellor", "fte": "1", "operator": operator_b},
                                     page=f"/administration/comptes/{platform.counsellor}")
    assert moved.status_code == 303, text(moved)
    wrong = await plain_pages.submit(ADMIN, f"/administration/comptes/{platform.counsellor}",
                                     {"role": "counsellor", "fte": "1", "operator": "op-inconnu"},
                                     page=f"/administration/comptes/{platform.counsellor}")
    assert wrong.status_code == 422 and "Choisissez un opérateur de la plateforme." in text(wrong)
    with session_scope(settings.db_url) as session:
        assert session.get(User, platform.counsellor).operator_id == operator_b
        # A manager of the co-porteur sees only its counsellor on the team page.
        accounts.create_user(session, "resp-b@test.fr", "manager", "mot-de-passe-assez-long", operator=operator_b,
                             platform_id=platform.platform_id)
    await plain_pages.sign_in("resp-b@test.fr", "mot-de-passe-assez-long")
    team = await plain_pages.get("resp-b@test.fr", "/equipe")
    assert "Camille Conseil" in text(team) and "Dominique Demi" not in text(team)
    await plain_pages.sign_in(MANAGER)
    lead_team = await plain_pages.get(MANAGER, "/equipe")
    assert "Camille Conseil" in text(lead_team) and "Dominique Demi" in text(lead_team)

    # The chef de file's manager chooses the perimeter of the indicators; the co-porteur's has none to choose.
    lead = await plain_pages.get(MANAGER, "/indicateurs")
    assert "Toute la plateforme (consolidé)" in text(lead) and "Handi-Emploi Sud" in text(lead)
    part = await plain_pages.get(MANAGER, f"/indicateurs?operateur={operator_b}")
    assert part.status_code == 200 and "Plateforme d'Ille-et-Vilaine — Handi-Emploi Sud" in text(part)
    assert f"operateur={operator_b}" in part.text  # the downloads keep the perimeter
    own = await plain_pages.get("resp-b@test.fr", "/indicateurs")
    assert own.status_code == 200 and "Toute la plateforme" not in text(own)
    assert "Plateforme d'Ille-et-Vilaine — Handi-Emploi Sud" in text(own)
