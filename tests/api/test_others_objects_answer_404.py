"""Someone else's object answers 404, exactly like an id that does not exist (issue 15): for each role ×
each kind of object that has an id in its path, on every route of that kind, reads and writes alike.

"Someone else's" is, for a counsellor, the persons another counsellor follows (and that counsellor's
tasks); for a manager of the chef de file, the other platform's; for a co-porteur's manager, the persons
the chef de file's counsellors follow and the platform's consolidated report; for a prescriber, the
persons someone else sent in; for an administrator, the accounts of the other platform (and every
person's file: administrators manage accounts and policy, services/access.py). Each answer must be a
404 problem+json identical (status, title, detail) to the answer for a missing id, so that nothing
tells an id that exists from one that does not; and nothing may be written, in the database (every
table compared before and after) or in the journeys' workflows (their histories).

A 403 is right only where the role may never do that kind of thing, for any object (a counsellor on
the accounts, a prescriber on a person's contacts): the route's own role check answers it, before any
object is looked up, and it too is identical for a missing id. Which role may do what is the route
table below (`WHO`): roles outside it get 403, roles in it get 404.

Every object exists for real (four journeys driven through the workflows, a paper signature with its
scan, contacts, a job, reports, accounts, on two platforms): its owner reads each of its routes (200)
before the matrix runs, so a 404 here is never a mistyped path. The route table is checked against the
app: every API route with an id in its path is in it, or in `NOT_AN_OBJECT` with its reason."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from unittest import mock

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import MetaData, select

from eaflow import accounts
from eaflow.app import create_app
from eaflow.services.signatures import paris_today
from eaflow.settings import Settings
from eaflow.store.db import engine_for, session_scope
from tests.api.test_contacts import contact
from tests.api.test_convention import draft_outcome, wait_mails
from tests.api.test_employment import opening
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER, PRESCRIBER, TODAY, intake
from tests.api.test_operators import ADMIN, COUNSELLOR_B, MANAGER_B, add_operator, user_id
from tests.conftest import PASSWORD, _password_hash

pytestmark = pytest.mark.xdist_group("dev-server")

# The other platform (Morbihan), with a full team of its own.
MANAGER_56, COUNSELLOR_56, PRESCRIBER_56, ADMIN_56 = (
    "manager@56.test.fr", "c1@56.test.fr", "prescripteur@56.test.fr", "admin@56.test.fr")

COUNSELLOR, MANAGERS, ADMINS, PRESCRIBERS = ("counsellor",), ("manager",), ("admin",), ("prescriber",)
STAFF = ("counsellor", "manager")
EVERYONE = ("counsellor", "manager", "admin", "prescriber")
ROLE = {C1: "counsellor", MANAGER: "manager", MANAGER_B: "manager", ADMIN: "admin", PRESCRIBER: "prescriber"}
C3 = "c3@test.fr"  # C2 (0.05 FTE) follows one person at most (R7)
OWNERS_ROLE = {C2: "counsellor", C3: "counsellor", MANAGER: "manager", COUNSELLOR_56: "counsellor", MANAGER_56: "manager",
               ADMIN_56: "admin"}

ANALYSIS = "Situation examinée avec la personne lors de l'entretien du jour."
EVALUATION = {"evaluated_on": TODAY, "wishes": "Garder son poste", "needs": "Adapter les horaires",
              "resources": "Une collègue référente"}
VEILLE = {"requested_by": "person", "agreement": {"on": TODAY, "how": "écrit signé"},
          "until": (date.today() + timedelta(days=60)).isoformat(),
          "reactivation_conditions": "À la demande de la personne, à tout moment."}
PDF = b"%PDF-1.4\n%scan de test\n"


@dataclass(frozen=True)
class Call:
    """One route of a kind of object: how to call it with a valid-looking body, and who may at all."""

    method: str
    path: str  # {journey} {contact} {signature} {task} {user} {snapshot}: the object's ids
    who: tuple[str, ...]  # the roles that may do this to their own objects: the others get 403
    json: dict | None = None
    params: dict | None = None
    multipart: bool = False

    def url(self, ids: dict[str, str]) -> str:
        return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], self.path)


J = "/api/v1/journeys/{journey}"
WHO: dict[str, list[Call]] = {
    "journey": [
        # Any signed-in user may ask for a journey by id: an admin sees none (404), like anyone else's.
        Call("GET", J, EVERYONE),
        Call("GET", J + "/history", STAFF),
        Call("GET", J + "/audit", MANAGERS),
        Call("PUT", J + "/counsellor", MANAGERS, json={"counsellor_id": "{own_counsellor}", "reason": "Réorganisation"}),
        Call("GET", J + "/convention", STAFF),
        Call("GET", J + "/convention.html", STAFF),
        Call("GET", J + "/convention.pdf", STAFF),
        Call("POST", J + "/convention/avenants", STAFF, json={"kind": "employer", "summary": "Nouvel employeur"}),
        Call("POST", J + "/convention/paper-signatures", STAFF, multipart=True),
        Call("GET", J + "/convention/signatures/{signature}/scan", STAFF),
        Call("GET", J + "/employment", STAFF),
        Call("POST", J + "/employment", STAFF, json=opening()),
        Call("GET", J + "/contacts", STAFF),
        Call("POST", J + "/contacts", STAFF, json=contact()),
        Call("PATCH", J + "/contacts/{contact}", STAFF, json={"note": "Corrigé."}),
        Call("DELETE", J + "/contacts/{contact}", STAFF, params={"reason": "Saisi deux fois."}),
        Call("GET", J + "/intensity", STAFF),
        Call("POST", J + "/veille", STAFF, json=VEILLE),
        Call("POST", J + "/reactivate", STAFF, json={"reason": "La personne le demande."}),
        Call("POST", J + "/exit", STAFF, json={"reason": "person_request", "analysis": ANALYSIS,
                                                "details": {"informed": True, "low_intensity_offered": True}}),
        Call("POST", J + "/rights", STAFF, json={"event": "renewal_filed", "on": TODAY}),
    ],
    "task": [
        Call("GET", "/api/v1/tasks/{task}", STAFF),
        Call("POST", "/api/v1/tasks/{task}/claim", STAFF),
        Call("POST", "/api/v1/tasks/{task}/unclaim", STAFF),
        Call("POST", "/api/v1/tasks/{task}/assign", MANAGERS, json={"assignee_id": "{own_counsellor}"}),
        Call("POST", "/api/v1/tasks/{task}/complete", STAFF, json={"outcome": EVALUATION}),
    ],
    "user": [
        Call("GET", "/api/v1/users/{user}", ADMINS),
        Call("PATCH", "/api/v1/users/{user}", ADMINS, json={"fte": 0.5}),
        Call("POST", "/api/v1/users/{user}/sessions/revoke", ADMINS),
        Call("POST", "/api/v1/users/{user}/password-reset", ADMINS),
    ],
    "snapshot": [
        Call("GET", "/api/v1/reports/{snapshot}", MANAGERS),
    ],
}

# API routes with an id in their path that name no object of someone else's, and why.
NOT_AN_OBJECT = {
    "/api/v1/platform-resources/{year}": "a year of the caller's own platform: there is no one else's to ask for",
    "/signature/{convention_id}/{token}": "a link holder's page: a wrong or foreign token is refused with its "
                                          "French page (tests/api/test_convention.py, bad links)",
    "/signature/{convention_id}/{token}/convention.pdf": "the same link's PDF",
}

MISSING = {"journey": "j-inexistant", "contact": "ct-inexistant", "signature": "sig-inexistant",
           "episode": "ep-inexistant", "task": "t-inexistant", "user": "u-inexistant", "snapshot": "999999"}


@dataclass
class Journey:
    """A journey driven for real, and the ids of what it holds."""

    ids: dict[str, str]
    owner: str  # who reads it: its counsellor
    manager: str  # a manager who sees it
    tasks: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ the world
def other_platform(settings) -> dict[str, str]:
    with session_scope(settings.db_url) as session, mock.patch.object(accounts, "hash_password", _password_hash):
        platform = accounts.create_platform(session, "56", "Plateforme du Morbihan", operator="Emploi 56",
                                            mailbox="plateforme56@test.fr")
        made = {email: accounts.create_user(session, email, role, PASSWORD, platform_id=platform.id, fte=fte,
                                            display_name=email.split("@")[0]).id
                for email, role, fte in ((MANAGER_56, "manager", 0.0), (COUNSELLOR_56, "counsellor", 1.0),
                                         (PRESCRIBER_56, "prescriber", 0.0), (ADMIN_56, "admin", 0.0))}
    return made


def slug(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower().replace("é", "e"))


async def completed(api, task: dict, as_: str, outcome: dict) -> None:
    done = await api.request("POST", f"/api/v1/tasks/{task['id']}/complete", as_, json={"outcome": outcome})
    assert done.status_code == 200, done.text


async def admitted(api, sent_by: str, manager: str, counsellor_id: str, counsellor: str, last_name: str) -> Journey:
    """A CDAPH orientation sent in by `sent_by`, admitted with `counsellor`: its shared evaluation is open."""
    person = {**intake()["person"], "last_name": last_name, "email": f"{slug(last_name)}@example.fr"}
    created = await api.request("POST", "/api/v1/journeys", sent_by, json=intake(
        channel="cdaph", person=person, situation="employed",
        employer={"name": f"Atelier {last_name}", "kind": "private", "email": f"rh@{slug(last_name)}.fr",
                  "contact_name": "Anne Roux"}))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    await completed(api, await api.wait_task(journey_id, "assign_counsellor", manager), manager,
                    {"counsellor_id": counsellor_id})
    evaluation = await api.wait_task(journey_id, "shared_evaluation", counsellor)
    return Journey({"journey": journey_id}, counsellor, manager, [evaluation["id"]])


async def with_a_file(api, smtp_server, journey: Journey, last_name: str) -> Journey:
    """Evaluated, its convention drafted and signed on paper by the person (a scan), a contact, a job."""
    journey_id, counsellor = journey.ids["journey"], journey.owner
    await completed(api, {"id": journey.tasks[0]}, counsellor, EVALUATION)
    draft = await api.wait_task(journey_id, "draft_convention", counsellor)
    employer_mail = f"rh@{slug(last_name)}.fr"
    await completed(api, draft, counsellor, draft_outcome(
        person_signatory={"name": f"Léa {last_name}", "email": f"{slug(last_name)}@example.fr"},
        employer={"name": f"Atelier {last_name}", "signatory": {"name": "Anne Roux", "email": employer_mail,
                                                                  "quality": "gérante"}}))
    journey.tasks.append(draft["id"])
    await wait_mails(smtp_server, "convention_to_sign", employer_mail)
    convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", counsellor)).json()
    person = next(p for p in convention["parties"] if p["role"] == "person")
    signed = await api.request("POST", f"/api/v1/journeys/{journey_id}/convention/paper-signatures", counsellor,
                               data={"version": "1", "party_id": person["id"], "signer_name": f"Léa {last_name}",
                                     "signed_on": paris_today().isoformat()},
                               files={"scan": ("convention-signee.pdf", PDF, "application/pdf")})
    assert signed.status_code == 201, signed.text
    recorded = await api.request("POST", f"/api/v1/journeys/{journey_id}/contacts", counsellor, json=contact())
    assert recorded.status_code == 201, recorded.text
    job = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", counsellor, json=opening())
    assert job.status_code == 201, job.text
    journey.ids.update(signature=signed.json()["id"], contact=recorded.json()["id"], party=person["id"],
                       episode=job.json()["id"])
    return journey


@dataclass
class World:
    journeys: dict[str, Journey]  # by name
    others: dict[str, dict[str, list[tuple[str, dict[str, str]]]]]  # viewer -> kind -> [(what, ids)]
    owners: list[tuple[str, str, dict[str, str]]]  # (kind, owner, ids): each object read by its owner
    own_counsellor: dict[str, str]  # viewer -> a counsellor they may designate


async def world(api, settings, smtp_server, platform) -> World:
    await add_operator(api, settings, platform)  # ADMIN, and the co-porteur's MANAGER_B and counsellor
    team_56 = other_platform(settings)
    # The chef de file's other counsellors' persons: someone else's for C1, the co-porteur, the prescriber.
    followed = await with_a_file(api, smtp_server, await admitted(
        api, MANAGER, MANAGER, platform.counsellor2, C2, "Quéré"), "Quéré")
    with session_scope(settings.db_url) as session, mock.patch.object(accounts, "hash_password", _password_hash):
        c3 = accounts.create_user(session, C3, "counsellor", PASSWORD, platform_id=platform.platform_id, fte=1.0).id
    waiting_evaluation = await admitted(api, MANAGER, MANAGER, c3, C3, "Le Goff")
    # The other platform's person, sent in by its own prescriber: someone else's for everyone here.
    elsewhere = await with_a_file(api, smtp_server, await admitted(
        api, PRESCRIBER_56, MANAGER_56, team_56[COUNSELLOR_56], COUNSELLOR_56, "Le Bihan"), "Le Bihan")
    own = await admitted(api, PRESCRIBER, MANAGER, platform.counsellor, C1, "Morvan")  # C1's, sent by PRESCRIBER
    period = {"from": "2026-01-01", "to": "2026-03-31"}
    snapshots = {}
    for manager in (MANAGER, MANAGER_56):
        archived = await api.request("POST", "/api/v1/reports", manager, json=period)
        assert archived.status_code == 201, archived.text
        snapshots[manager] = {"snapshot": str(archived.json()["id"])}

    def journey_objects(*journeys: Journey):
        return [(f"the journey {j.ids['journey']}", j.ids) for j in journeys]

    def tasks_of(*journeys: Journey):
        return [(f"the task {t} of {j.ids['journey']}", {"task": t}) for j in journeys for t in j.tasks]

    user_56 = {"user": team_56[COUNSELLOR_56]}
    others = {
        C1: {"journey": journey_objects(followed, waiting_evaluation, elsewhere),
             "task": tasks_of(followed, waiting_evaluation, elsewhere)},
        MANAGER: {"journey": journey_objects(elsewhere), "task": tasks_of(elsewhere),
                  "snapshot": [("the other platform's report", snapshots[MANAGER_56])]},
        MANAGER_B: {"journey": journey_objects(followed, waiting_evaluation, elsewhere),
                    "task": tasks_of(followed, waiting_evaluation, elsewhere),
                    "snapshot": [("the platform's consolidated report", snapshots[MANAGER]),
                                 ("the other platform's report", snapshots[MANAGER_56])]},
        PRESCRIBER: {"journey": journey_objects(followed, elsewhere), "task": tasks_of(followed, elsewhere)},
        ADMIN: {"journey": journey_objects(followed, elsewhere), "task": tasks_of(followed),
                "user": [("an account of the other platform", user_56)]},
    }
    for viewer in others:  # the kinds a role may never touch: answered 403 whatever the object
        others[viewer].setdefault("user", [("an account of the other platform", user_56)])
        others[viewer].setdefault("snapshot", [("the other platform's report", snapshots[MANAGER_56])])
    owners = [("journey", j.owner, j.ids) for j in (followed, elsewhere)]
    owners += [("journey", j.manager, j.ids) for j in (followed, elsewhere)]
    owners += [("task", j.owner, {"task": t}) for j in (followed, waiting_evaluation, elsewhere) for t in j.tasks]
    owners += [("user", ADMIN_56, user_56), ("snapshot", MANAGER, snapshots[MANAGER]),
               ("snapshot", MANAGER_56, snapshots[MANAGER_56])]
    designate = {C1: platform.counsellor, MANAGER: platform.counsellor, ADMIN: platform.counsellor,
                 PRESCRIBER: platform.counsellor, MANAGER_B: user_id(settings, COUNSELLOR_B)}
    return World({"followed": followed, "waiting": waiting_evaluation, "elsewhere": elsewhere, "own": own},
                 others, owners, designate)


# ------------------------------------------------------------------------------------------ checks
class Records:
    """Every row of every table (the access tokens aside: each request stamps its token's last use)."""

    NOT_RECORDS = {"access_token"}

    def __init__(self, settings):
        self.engine = engine_for(settings.db_url)
        self.tables = MetaData()
        self.tables.reflect(self.engine)

    def now(self) -> dict[str, list[str]]:
        with self.engine.connect() as connection:
            return {table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                    for table in self.tables.sorted_tables if table.name not in self.NOT_RECORDS}

    @staticmethod
    def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
        return [f"{name}: {len(before[name])} -> {len(after[name])} rows, e.g. "
                f"{sorted(set(after[name]) - set(before[name]))[:1] or sorted(set(before[name]) - set(after[name]))[:1]}"
                for name in before if before[name] != after[name]]


async def quiet(records: Records, timeout: float = 30) -> dict[str, list[str]]:
    """The records once the workflows and the outbox have settled (unchanged for a second)."""
    last = records.now()
    for _ in range(int(timeout)):
        await asyncio.sleep(1)
        current = records.now()
        if current == last:
            return current
        last = current
    raise AssertionError("the records never settled: " + "; ".join(Records.changed(records.now(), last)))


async def history_lengths(client, journey_ids) -> dict[str, int]:
    lengths = {}
    for journey_id in journey_ids:
        described = await client.get_workflow_handle(journey_id).describe()
        lengths[journey_id] = described.raw_description.workflow_execution_info.history_length
    return lengths


async def call(api, viewer: str, route: Call, ids: dict[str, str], own_counsellor: str):
    def filled(value):
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        return own_counsellor if value == "{own_counsellor}" else value

    kwargs = {"json": filled(route.json)} if route.json is not None else {}
    if route.params:
        kwargs["params"] = route.params
    if route.multipart:
        kwargs["data"] = {"version": "1", "party_id": ids.get("party", "pa-inexistant"), "signer_name": "Léa Quéré",
                          "signed_on": paris_today().isoformat()}
        kwargs["files"] = {"scan": ("convention-signee.pdf", PDF, "application/pdf")}
    return await api.request(route.method, route.url(ids), viewer, **kwargs)


def answer(response) -> tuple:
    body = response.json() if response.headers.get("content-type") == "application/problem+json" else response.text
    return (response.status_code, response.headers.get("content-type"),
            body.get("title") if isinstance(body, dict) else body, body.get("detail") if isinstance(body, dict) else None)


# ------------------------------------------------------------------------------------------ tests
def test_the_route_table_covers_every_route_with_an_id(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))  # only its routes are read
    with_ids = {(method, route.path) for route in iter_route_contexts(app.routes)
                if "{" in (route.path or "") and route.endpoint is not None
                and not route.endpoint.__module__.startswith("eaflow.web") for method in (route.methods or ())}
    placeholders = {"journey": "journey_id", "contact": "contact_id", "signature": "signature_id", "task": "task_id",
                    "user": "user_id", "snapshot": "snapshot_id:int"}
    tabled = {(c.method, re.sub(r"{(\w+)}", lambda m: "{" + placeholders[m.group(1)] + "}", c.path))
              for calls in WHO.values() for c in calls}
    assert tabled <= with_ids, f"the table names routes the app does not have: {sorted(tabled - with_ids)}"
    missing = sorted((m, p) for m, p in with_ids - tabled if p not in NOT_AN_OBJECT)
    assert missing == [], f"add these routes to WHO (or to NOT_AN_OBJECT with why): {missing}"


async def test_someone_elses_object_answers_404_like_a_missing_one_and_writes_nothing(
        api, settings, smtp_server, platform, local_env):
    here = await world(api, settings, smtp_server, platform)
    for viewer in ROLE:
        await api.login(viewer)  # signed in now: a sign-in writes its trace, the matrix must write none

    # The objects exist and the table's paths are right: each owner reads every route of its objects.
    for kind, owner, ids in here.owners:
        for route in WHO[kind]:
            if route.method == "GET" and OWNERS_ROLE[owner] in route.who:
                read = await call(api, owner, route, ids, "")
                assert read.status_code == 200, (owner, route.url(ids), read.text)

    records = Records(settings)
    before = await quiet(records)
    journeys = [j.ids["journey"] for j in here.journeys.values()]
    histories = await history_lengths(local_env.client, journeys)
    wrong, checked = [], 0
    for viewer, kinds in here.others.items():
        for kind, objects in kinds.items():
            for route in WHO[kind]:
                expected = 404 if ROLE[viewer] in route.who else 403
                missing = await call(api, viewer, route, {**MISSING, "party": "pa-inexistant"},
                                     here.own_counsellor[viewer])
                for what, ids in objects:
                    got = await call(api, viewer, route, {**MISSING, **ids}, here.own_counsellor[viewer])
                    checked += 1
                    line = f"{route.method} {route.path} as {ROLE[viewer]} {viewer} on {what}"
                    if got.status_code != expected or answer(got) != answer(missing):
                        wrong.append(f"{line}: {got.status_code} {got.text[:160]} (a missing id: "
                                     f"{missing.status_code} {missing.text[:120]}; expected {expected})")
                    elif got.headers["content-type"] != "application/problem+json":
                        wrong.append(f"{line}: not problem+json")
                    changed = Records.changed(before, records.now())
                    if changed:
                        wrong.append(f"{line} wrote: {changed}")
                        before = records.now()

    # A sub-object is looked up within its journey: one's own journey's path with someone else's contact
    # or signature id answers as a missing one does.
    own, followed, elsewhere = (here.journeys[name].ids for name in ("own", "followed", "elsewhere"))
    sub_routes = [c for c in WHO["journey"] if "{contact}" in c.path or "{signature}" in c.path]
    cases = [(C1, own, followed), (C1, own, elsewhere), (MANAGER, own, elsewhere), (MANAGER, followed, elsewhere)]
    for viewer, mine, theirs in cases:
        for route in sub_routes:
            sub = {k: theirs[k] for k in ("contact", "signature")}
            got = await call(api, viewer, route, {**mine, **sub}, "")
            missing = await call(api, viewer, route, {**mine, **{k: MISSING[k] for k in sub}}, "")
            if got.status_code != 404 or answer(got) != answer(missing):
                wrong.append(f"{route.method} {route.url({**mine, **sub})} as {viewer}: {got.status_code} {got.text[:160]}")
    assert wrong == [], f"{len(wrong)} wrong answers of {checked}:\n" + "\n".join(wrong)
    assert checked > 300  # the matrix ran: roles × objects × routes
    assert Records.changed(before, records.now()) == []
    assert await history_lengths(local_env.client, journeys) == histories  # no signal, no update reached them
