"""R22 for the pages: the same walk as tests/api/test_r22_every_read_audited.py over every page of
eaflow.web, signed in through the sign-in form: a page that shows a person's file writes a read trace
naming the journey, and the pages that show no one's file are an allow-list checked to name no one."""
from __future__ import annotations

import re

import pytest

from eaflow.app import create_app
from tests.api.test_journeys_and_inbox import C1, MANAGER, PRESCRIBER
from tests.api.test_r22_every_read_audited import (
    allowed_params, PERSON_IN, get_routes, in_accompaniment_on_paper, untraced_reads,
)
from tests.api.test_r22_need_to_know import waiting

pytestmark = pytest.mark.xdist_group("dev-server")

USERS = (C1, MANAGER, PRESCRIBER)

# Pages that show no person's file, and why. Their answers are checked to name no one.
NO_PERSON_DATA = {
    "/connexion": "the sign-in form",
    "/preferences": "the signed-in user's mail preferences",
    "/securite": "the signed-in user's second factor: on or off, recovery codes left",
    "/securite/activation": "the signed-in user's own enrolment: a QR code and secret of their second factor",
    "/connexion/code": "the second step of the sign-in: a code field",
    "/connexion/activation": "the enrolment a policy requires at sign-in: the user's own QR code and secret",
    "/mot-de-passe/enregistre": "the password was set",
    "/mot-de-passe/{token}": "the form of a password link",
    "/equipe": "the team: counsellors, caseload counts and capacity",
    "/indicateurs": "the indicators: aggregates with small cells masked (R20)",
    "/indicateurs/telecharger": "the indicators as a file: aggregates",
    "/indicateurs/archives/{snapshot_id:int}": "a stored quarterly report: aggregates with small cells masked",
    "/ressources": "the platform's declared staff time and funding",
    "/prescriptions/nouvelle": "the empty prescription form",
    "/administration": "the administrator's overview: accounts and policy",
    "/administration/comptes/nouveau": "the form of a new account",
    "/administration/comptes/{user_id}": "one staff account",
    "/administration/plateforme": "the platform's details",
    "/administration/politique": "the platform's policy",
}


async def test_r22_every_page_that_shows_a_persons_file_traces_the_read(pages, settings, smtp_server, platform):
    api = pages.api
    accompanied, accompanied_params = await in_accompaniment_on_paper(api, smtp_server, platform)
    listed = await waiting(api, person={**PERSON_IN, "email": "z.quennehen@example.fr"})
    routes = get_routes(create_app(settings), pages=True)
    assert len(routes) > 20 and "/parcours/{journey_id}" in dict(routes)  # the discovery works
    for user in USERS:
        signed_in = await pages.sign_in(user)
        assert signed_in.status_code in (302, 303), signed_in.text

    def params_for(path: str) -> tuple[dict[str, str], str | None]:
        item = accompanied_params["contact_id"] if "/contacts/" in path else accompanied_params["episode_id"]
        params = {**accompanied_params, **allowed_params(platform), "item_id": item, "format": "pdf"}
        return params, accompanied if re.search(r"{(journey_id|task_id|item_id)}", path) else None

    async def get(user: str, path: str):
        return await pages.get(user, path)

    untraced, refused = await untraced_reads(settings, routes, get, USERS, NO_PERSON_DATA, params_for,
                                             {accompanied, listed})
    # Only the forms of actions that a journey in accompaniment does not take (resume a veille, a
    # rights decision not filed…, a paper signature of a convention already signed) refuse everyone
    # here; what they answer names no one (checked).
    assert {module for _, module, _ in refused} <= {"eaflow.web.actions", "eaflow.web.paper"}, refused
    assert len(refused) < len([r for r in routes if r[1] == "eaflow.web.actions"]) / 2, refused
    assert untraced == [], "pages that show a person's file without a trace (R22):\n" + "\n".join(untraced)
