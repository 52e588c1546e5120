"""The API fuzzed on every run (issue 15): schemathesis generates requests from the app's own OpenAPI
document, valid ones and invalid ones, for every operation, signed in as each role, with path ids that
sometimes exist; the app answers on a real SQLite file with a real worker and Temporal dev server.
It fails on any 5xx, any undocumented status, any 4xx that is not problem+json, any response that does
not match its schema; and, as issue 18's property of every write endpoint, on a 422 that names neither a
field nor a rule, on a refused write that changed the records, and on any record stored out of the
bounds of what can be true (`eaflow data check`'s, after the run).

The run is bounded by its count of cases (EXAMPLES per operation: about two minutes on a 2-core
machine, printed at the end), not by a clock, so that it replays whatever the machine's load:
Hypothesis draws from SEED, printed with every failure. `EAFLOW_FUZZ_SEED=<n>` replays another run
or explores a new one; `EAFLOW_FUZZ_EXAMPLES` widens it; `EAFLOW_FUZZ_ONLY` picks operations.
"""
from __future__ import annotations

import asyncio
import os
from datetime import date
import time
import traceback
from unittest import mock

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from sqlmodel import func, select
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eaflow import accounts
from eaflow.app import create_app
from eaflow.services import sessions
from eaflow.services.plausible import records_out_of_bounds
from eaflow.store.db import session_scope
from eaflow.store.accompaniment import Contact, EmploymentEpisode
from eaflow.store.convention import Signature
from eaflow.store.models import Journey, Operator, Person, User
from eaflow.worker import build_worker
from tests.api.conftest import Api
from tests.api.test_contacts import contact
from tests.api.test_journeys_and_inbox import C1, MANAGER, PRESCRIBER, intake
from tests.api.test_employment import in_accompaniment, opening
from tests.conftest import PASSWORD, _password_hash

pytestmark = [pytest.mark.xdist_group("fuzz"), pytest.mark.timeout(1800)]  # EAFLOW_FUZZ_EXAMPLES may widen it

SEED = int(os.environ.get("EAFLOW_FUZZ_SEED", "15018"))
EXAMPLES = int(os.environ.get("EAFLOW_FUZZ_EXAMPLES", "100"))
ONLY = os.environ.get("EAFLOW_FUZZ_ONLY", "")  # a part of the operations' labels, to replay one ("GET /api/v1/me")

ADMIN, VICTIM = "admin@test.fr", "victime@test.fr"
ROLES = {"counsellor": C1, "manager": MANAGER, "admin": ADMIN, "prescriber": PRESCRIBER}
PROBLEM = "application/problem+json"
# The tables only requests write: a refused request must leave their counts as they were.
RECORDS = (Journey, Person, Contact, EmploymentEpisode, Signature, User, Operator)
# Operations that end the very session they are called with: each gets a token of its own.
ENDS_ITS_SESSION = {"POST /api/v1/auth/logout"}


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


def problem_json_on_every_4xx(ctx, response, case):
    """Every refusal of the API is RFC 9457 problem+json whose status is the response's."""
    if not 400 <= response.status_code < 600 or not case.path.startswith("/api/"):
        return None
    content_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert content_type == PROBLEM, f"{response.status_code} answered as {content_type!r}, not {PROBLEM}"
    body = response.json()
    missing = {"type", "title", "status", "detail"} - set(body)
    assert not missing, f"problem+json without {sorted(missing)}"
    assert body["status"] == response.status_code, f"problem status {body['status']} on a {response.status_code}"
    return True


def a_422_names_its_field(ctx, response, case):
    """Issue 18: a refused write names the field (or the domain rule) it was refused for."""
    if response.status_code != 422 or not case.path.startswith("/api/"):
        return None
    body = response.json()
    fields = [error.get("field") for error in body.get("errors") or []]
    assert body.get("rule") or (fields and all(fields)), f"a 422 that names no field nor rule: {body}"
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          problem_json_on_every_4xx, a_422_names_its_field]


def httpx_kwargs(case, token: str | None) -> dict:
    """The request schemathesis built (requests-style keyword arguments) for httpx."""
    sent = case.as_transport_kwargs(base_url="http://test")
    out = {"method": sent["method"], "url": sent["url"], "headers": dict(sent.get("headers") or {}),
           "params": sent.get("params"), "cookies": sent.get("cookies") or None}
    out["headers"].pop("Authorization", None)
    if token:
        out["headers"]["Authorization"] = f"Bearer {token}"
    if "json" in sent:
        out["json"] = sent["json"]
    data = sent.get("data")
    if isinstance(data, (bytes, str)):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    if sent.get("files"):  # requests-style parts: (name, (None, value)) for a field, (name, (filename, bytes)) for a file
        fields: dict[str, list[str]] = {}
        files = []
        for name, (filename, value, *rest) in sent["files"]:
            value = value if isinstance(value, (bytes, str)) else str(value)
            if filename is None:
                fields.setdefault(name, []).append(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
            else:
                files.append((name, (filename, value, *rest)))
        out["data"], out["files"] = fields, files
    return out


async def seed_data(api: Api, settings, platform, smtp_server) -> dict[str, list[str]]:
    """Objects the generated path ids sometimes name: journeys at several steps, tasks, a contact, a job."""
    with session_scope(settings.db_url) as session, mock.patch.object(accounts, "hash_password", _password_hash):
        accounts.create_user(session, ADMIN, "admin", PASSWORD, platform_id=platform.platform_id, display_name="Alex Admin")
        victim = accounts.create_user(session, VICTIM, "counsellor", PASSWORD, platform_id=platform.platform_id,
                                      fte=0.5, display_name="Victor Victime").id
    following = await in_accompaniment(api, smtp_server, platform)
    waiting = (await api.request("POST", "/api/v1/journeys", PRESCRIBER, json=intake())).json()["id"]
    recorded = await api.request("POST", f"/api/v1/journeys/{following}/contacts", C1, json=contact())
    job = await api.request("POST", f"/api/v1/journeys/{following}/employment", C1, json=opening(name="Bricolage Plus"))
    assert recorded.status_code == 201 and job.status_code in (200, 201), (recorded.text, job.text)
    tasks = []
    for who in (C1, MANAGER):
        tasks += [t["id"] for t in (await api.request("GET", "/api/v1/tasks", who)).json()["items"]]
    return {"journey_id": [following, waiting], "task_id": tasks, "contact_id": [recorded.json()["id"]],
            "user_id": [victim], "year": ["2026"]}


@pytest.fixture
async def app_under_test(local_env, settings, platform, smtp_server):
    app = create_app(settings, client=local_env.client)
    async with build_worker(local_env.client, settings):
        # An exception the app lets out is its 500 (as a server answers it), reported with the request.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as http:
            api = Api(http)
            known = await seed_data(api, settings, platform, smtp_server)
            tokens = {role: (await api.login(email))["Authorization"].split()[1] for role, email in ROLES.items()}
            yield app, api, known, tokens


class Driver:
    """Runs the app's coroutines on the test's event loop (beside the worker) from Hypothesis' thread."""

    def __init__(self, api: Api, loop: asyncio.AbstractEventLoop, settings):
        self.api, self.loop, self.settings = api, loop, settings
        self.statuses: dict[int, int] = {}
        self.signed_in_as = "nobody"

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def send(self, kwargs: dict) -> httpx.Response:
        request = self.api.http.build_request(**kwargs)
        request.read()  # a multipart body is a stream: read it so that the checks can show what was sent
        response = self._run(self.api.http.send(request))
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response

    def records(self) -> dict[str, int]:
        """How many rows the tables that only requests write hold (the workflows running beside write
        tasks and the audit trail, not these)."""
        with session_scope(self.settings.db_url) as session:
            return {model.__name__: session.exec(select(func.count()).select_from(model)).one() for model in RECORDS}

    def fresh_token(self, role: str) -> str:
        """A token of its own for a case that revokes it (issued as sign-in issues them)."""
        with session_scope(self.settings.db_url) as session:
            user = session.exec(select(User).where(User.email == ROLES[role])).one()
            return sessions.issue_token(session, user, "api", self.settings)


def fuzz_operation(operation, driver: Driver, known: dict[str, list[str]], tokens: dict[str, str]) -> None:
    """EXAMPLES generated cases of one operation, valid and invalid, each as one role (or nobody)."""
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    roles = st.sampled_from([*ROLES, "counsellor", "manager", None])  # those who do most, twice as often
    ends_session = operation.label in ENDS_ITS_SESSION

    @seed(SEED)
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                         phases=[Phase.explicit, Phase.generate, Phase.shrink],
                         suppress_health_check=list(HealthCheck), print_blob=True)
    @given(data=st.data())
    def one_case(data):
        case = data.draw(strategy, label="case")
        for name in list(case.path_parameters or {}):
            if known.get(name) and data.draw(st.integers(0, 3), label=f"known {name}?"):  # 3 times in 4
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]), label=name)
        role = data.draw(roles, label="role")
        token = driver.fresh_token(role) if ends_session and role else tokens.get(role)
        driver.signed_in_as = role and ROLES[role] or "nobody"  # the last case run is the one reported
        writes = case.method.upper() in ("POST", "PUT", "PATCH", "DELETE")
        before = driver.records() if writes else None
        response = driver.send(httpx_kwargs(case, token))
        case.validate_response(response, checks=CHECKS)
        if writes and 400 <= response.status_code < 500:  # issue 18: a refusal writes nothing
            assert driver.records() == before, f"a {response.status_code} changed the records: {response.text[:300]}"

    one_case()


def fuzz_all(app, api: Api, known, tokens, loop, settings) -> tuple[list[str], int, float, dict[int, int]]:
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations() if ONLY in result.ok().label]
    failures = []
    started = time.monotonic()
    driver = Driver(api, loop, settings)
    for operation in operations:
        try:
            fuzz_operation(operation, driver, known, tokens)
        except BaseException as error:  # noqa: BLE001 - every operation's failure is reported, not the first only
            failures.append(f"{operation.label}, signed in as {driver.signed_in_as}:\n"
                            + "".join(traceback.format_exception_only(error)))
    return failures, len(operations), time.monotonic() - started, dict(sorted(driver.statuses.items()))


async def test_every_operation_answers_within_its_schema_for_every_role(app_under_test, settings):
    app, api, known, tokens = app_under_test
    loop = asyncio.get_running_loop()
    failures, operations, elapsed, statuses = await asyncio.to_thread(fuzz_all, app, api, known, tokens, loop, settings)
    print(f"schemathesis: {operations} operations, {sum(statuses.values())} requests in {elapsed:.0f} s, seed {SEED}, "
          f"statuses {statuses}")
    # Issue 18: whatever was accepted is plausible (the bounds of `eaflow data check` hold on every record).
    with session_scope(settings.db_url) as session:
        stored = [record.line() for record in records_out_of_bounds(session, None, date.today())]
    failures += [f"accepted and stored out of bounds: {line}" for line in stored]
    assert not failures, (f"{len(failures)} operations failed (seed {SEED}: replay with EAFLOW_FUZZ_SEED={SEED}):\n\n"
                          + "\n\n".join(failures))
