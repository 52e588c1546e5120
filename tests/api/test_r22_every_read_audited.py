"""R22: every read of a person's file is traced. The test discovers the app's GET routes (it lists none
by hand): each one must write a read trace naming the journey it showed, unless it is in the allow-list
below of routes that read no person's data — and those are checked too: their answers, for every role,
carry neither the person's name nor their e-mail nor their birth date. A route added later that shows a
person's file without tracing the read makes this test fail.

Three journeys give every route something to show: one in accompaniment (convention signed, the person
on paper with a scan, a contact and an employment recorded), one whose convention is out for signature
(the public signing page), one on the waiting list."""
from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.routing import iter_route_contexts
from sqlmodel import func, select

from eaflow.services.access import READ_ACTIONS
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent
from tests.api.test_contacts import contact
from tests.api.test_convention import (
    EMPLOYER, EMPLOYER_IN, admitted_to_convention, draft_outcome, link_in, manager_signs, sign, wait_mails,
    wait_state,
)
from tests.api.test_employment import opening
from tests.api.test_journeys_and_inbox import C1, MANAGER, PRESCRIBER, intake
from tests.api.test_paper_signature import paper, parties
from tests.api.test_r22_need_to_know import waiting

pytestmark = pytest.mark.xdist_group("dev-server")

FIRST, LAST, BORN, EMAIL = "Zélie", "Quennehen", "1987-11-23", "zelie.quennehen@example.fr"
PERSON_IN = {**intake()["person"], "first_name": FIRST, "last_name": LAST, "birth_date": BORN, "email": EMAIL}
IDENTITY = (LAST, EMAIL, BORN, "23/11/1987")  # what must not show where no read is traced
OTHER_EMPLOYER = "direction@atelier-vitre.fr"
USERS = (C1, MANAGER, PRESCRIBER)  # each route is read as the first of them it answers 200 to

# GET routes that read no person's data, and why. Their answers are checked to name no one.
NO_PERSON_DATA = {
    "/openapi.json": "the API's description",
    "/docs": "the API's documentation page",
    "/docs/oauth2-redirect": "the documentation's sign-in helper",
    "/redoc": "the API's documentation page",
    "/metrics": "counters and durations by route template and outcome, no ids (observability.py)",
    "/healthz": "the API, the database and Temporal answer",
    "/dev/mail": "the embedded stack's mail catcher (`eaflow up` only, 404 elsewhere): the mails sent",
    "/dev/mail.json": "the same mail catcher as JSON",
    "/api/v1/me": "the signed-in user",
    "/api/v1/me/preferences": "the signed-in user's mail preferences",
    "/api/v1/counsellors": "the team: caseload counts and capacity",
    "/api/v1/users": "the accounts of the platform's staff",
    "/api/v1/users/{user_id}": "one staff account",
    "/api/v1/operators": "the organisations running the platform",
    "/api/v1/tasks": "the inbox, a work queue (which task, of which journey id, by when): no name, no outcome "
                     "(services/inbox.py); the read of one task, with its outcome, is traced",
    "/api/v1/tasks/kinds": "the task kinds and their outcome schemas",
    "/api/v1/reports": "the list of the quarterly reports' snapshots: aggregates",
    "/api/v1/reports/{snapshot_id:int}": "one quarterly report snapshot: aggregates with small cells masked",
    "/api/v1/reports/indicators": "the indicators: aggregates with small cells masked (R20)",
    "/api/v1/platform-resources/{year}": "the platform's staff time and funding of a year",
    "/api/v1/policy": "the platform's policy",
}


def allowed_params(platform) -> dict[str, str]:
    """The values the allowed routes with parameters are read with."""
    return {"user_id": platform.manager, "year": str(date.today().year), "snapshot_id": "1", "token": "sans-objet"}


def get_routes(app, pages: bool = False) -> list[tuple[str, str]]:
    """(path, endpoint module) of every GET route of the API, or of the pages (eaflow.web)."""
    found = []
    for route in iter_route_contexts(app.routes):
        if "GET" in (route.methods or ()) and route.endpoint is not None:
            module = route.endpoint.__module__
            if module.startswith("eaflow.web") == pages:
                found.append((route.path, module))
    return found


def read_traces(settings) -> list[AuditEvent]:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action.in_(READ_ACTIONS))
                                 .order_by(AuditEvent.id)).all())


def last_id(settings) -> int:
    with session_scope(settings.db_url) as session:
        return int(session.exec(select(func.max(AuditEvent.id))).one() or 0)


async def in_accompaniment_on_paper(api, smtp_server, platform) -> tuple[str, dict[str, str]]:
    """The journey in accompaniment and the values of its routes' parameters."""
    journey_id, draft = await admitted_to_convention(api, platform, person=PERSON_IN, situation="employed",
                                                     employer=EMPLOYER_IN)
    outcome = draft_outcome(person_signatory={"name": f"{FIRST} {LAST}", "email": EMAIL})
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": outcome})
    assert done.status_code == 200, done.text
    [employer_mail] = await wait_mails(smtp_server, "convention_to_sign", EMPLOYER)
    scan = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention.pdf", C1)).content
    person = (await parties(api, journey_id))["person"]
    signed = await paper(api, journey_id, ("convention-signee.pdf", scan, "application/pdf"),
                         signer_name=f"{FIRST} {LAST}", party_id=person["id"])
    assert signed.status_code == 201, signed.text
    assert (await sign(api, link_in(employer_mail), "Paul Durand")).status_code == 200
    await manager_signs(api, journey_id)
    await wait_state(api, journey_id, "accompaniment")
    recorded = await api.request("POST", f"/api/v1/journeys/{journey_id}/contacts", C1, json=contact())
    assert recorded.status_code == 201, recorded.text
    opened = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1, json=opening())
    assert opened.status_code == 201, opened.text
    return journey_id, {"journey_id": journey_id, "task_id": draft["id"], "signature_id": signed.json()["id"],
                        "contact_id": recorded.json()["id"], "episode_id": opened.json()["id"]}


async def out_for_signature(api, smtp_server, platform) -> tuple[str, dict[str, str]]:
    """A journey whose convention waits for its signatures, and the parameters of its signing page."""
    journey_id, draft = await admitted_to_convention(api, platform, person=PERSON_IN, situation="employed",
                                                     employer={**EMPLOYER_IN, "email": OTHER_EMPLOYER})
    employer = {"name": "Atelier de Vitré", "signatory": {"name": "Anne Roux", "email": OTHER_EMPLOYER,
                                                          "quality": "directrice"}}
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome(
        person_signatory={"name": f"{FIRST} {LAST}", "email": EMAIL}, employer=employer)})
    assert done.status_code == 200, done.text
    [mail] = await wait_mails(smtp_server, "convention_to_sign", OTHER_EMPLOYER)
    convention_id, token = re.fullmatch(r"/signature/([^/]+)/([^/?#]+)", link_in(mail)).groups()
    return journey_id, {"convention_id": convention_id, "token": token}


async def untraced_reads(settings, routes, get, users, allowed: dict[str, str], params_for, ours: set[str]):
    """(the routes that answered without a read trace naming their journey, the routes no user could
    read). `params_for(path)` gives the values of its parameters and the journey they show.

    A route of one journey is read by the first user it answers and must trace the read. A list (no
    journey) is read by every user: each answer that names the person must trace a read of one of
    `ours`, and one answer at least must name them (else this test gives it nothing to show). An
    allowed route is read by every user and must name no one; so must the refusals of a route no
    one could read."""
    untraced, refused = [], []

    async def traced_read(user: str, url: str):
        before = last_id(settings)
        response = await get(user, url)
        return response, {e.journey_id for e in read_traces(settings) if e.id > before}

    for path, module in routes:
        params, journey = params_for(path)
        url = re.sub(r"{(\w+)(:\w+)?}", lambda m: str(params.get(m.group(1), m.group(0))), path)
        if path in allowed:
            for user in users:  # the allow-list is checked, not trusted
                body = (await get(user, url)).text
                assert not [word for word in IDENTITY if word in body], f"{path} shows the person to {user}"
            continue
        unknown = set(re.findall(r"{(\w+)", path)) - set(params)
        assert not unknown, f"{path}: give this test a value for {unknown}, or allow-list the route with why"
        answers = {}
        for user in users:
            response, traced = await traced_read(user, url)
            answers[user] = response
            if response.status_code != 200:
                continue
            if journey is not None:
                if journey not in traced:
                    untraced.append(f"GET {path} ({module}) read as {user}: traces of {sorted(traced)}")
                break
            if LAST in response.text and not traced & ours:
                untraced.append(f"GET {path} ({module}) shows the person to {user} without a trace")
        if not [a for a in answers.values() if a.status_code == 200]:
            for who, answer in answers.items():
                assert not [w for w in IDENTITY if w in answer.text], f"{path} refused to {who} shows the person"
            refused.append((path, module, {who: answer.status_code for who, answer in answers.items()}))
        elif journey is None:
            assert any(LAST in a.text for a in answers.values()), f"{path}: shows the person to no one here"
    return untraced, refused


async def test_r22_every_route_that_reads_a_persons_file_traces_the_read(api, settings, smtp_server, platform):
    from eaflow.app import create_app

    accompanied, accompanied_params = await in_accompaniment_on_paper(api, smtp_server, platform)
    signing, signing_params = await out_for_signature(api, smtp_server, platform)
    listed = await waiting(api, person={**PERSON_IN, "email": "z.quennehen@example.fr"})
    routes = get_routes(create_app(settings))
    assert len(routes) > 20 and "/api/v1/journeys/{journey_id}" in dict(routes)  # the discovery works

    def params_for(path: str) -> tuple[dict[str, str], str | None]:
        names = set(re.findall(r"{(\w+)", path))
        if names & set(signing_params):
            return signing_params, signing
        return {**accompanied_params, **allowed_params(platform)}, accompanied if names else None

    async def get(user: str, path: str):
        return await api.request("GET", path, user)

    untraced, refused = await untraced_reads(settings, routes, get, USERS, NO_PERSON_DATA, params_for,
                                             {accompanied, signing, listed})
    assert refused == []  # every route was read
    assert untraced == [], "routes that read a person's file without a trace (R22):\n" + "\n".join(untraced)
