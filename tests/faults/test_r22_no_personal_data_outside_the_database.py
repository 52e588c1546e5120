"""R22 on the real stack: a person's identity lives in the database, nowhere else in the clear.

The real `eaflow api` and `eaflow worker` processes (and the Temporal dev server) take a journey with a
distinctive name, e-mail, phone and birth date to the accompaniment: intake, counsellor, evaluation,
convention drafted, signed by its personal links and by the platform. Then everything outside the
database is searched for that identity, in the forms it could take (the birth date in ISO, French
and compact forms; the name in any case, its accents as UTF-8 or JSON escapes):

- every process's log (api with its access log, worker, Temporal server);
- in Temporal, every workflow and schedule of the namespace: ids, search attributes, memo, and every
  event of every run as the server stores it (inputs, results, update arguments, failure messages);
- the metrics of the API (`/metrics`) and of the worker.

The person's mailbox refuses the first mail once (a full mailbox): the failed attempt's error, which
names the address, is kept by Temporal too and must not be readable there.

The mails are sent to the person and name them: the SMTP server is their mailbox, not a log.
"""
from __future__ import annotations

import json
import re

import httpx
import pytest

from eaflow.services.signatures import paris_today
from tests.api.test_convention import draft_outcome
from tests.conftest import free_ports
from tests.faults.conftest import C1, MANAGER, QUIET_POLICY, intake, run, wait_until

pytestmark = pytest.mark.xdist_group("faults")

FIRST, LAST = "Ysaline", "Kerbrat-Quéméner"
EMAIL, PHONE = "ysaline.kerbrat@exemple-r22.fr", "0611223344"
BORN = "1984-03-17"
PERSON = {"first_name": FIRST, "last_name": LAST, "birth_date": BORN, "email": EMAIL, "phone": PHONE,
          "legal_representative": None}
EMPLOYER = {"name": "Boulangerie Durand", "kind": "private", "email": "rh@boulangerie-durand.fr",
            "contact_name": "Paul Durand"}


def forms_of_the_identity() -> list[str]:
    """Every form to look for, lower case (the search is case-insensitive)."""
    words = [FIRST, LAST, "Kerbrat", "Quéméner", f"{FIRST} {LAST}", EMAIL, EMAIL.split("@")[0], PHONE,
             BORN, "17/03/1984", "17.03.1984", "17-03-1984", "19840317", "17 mars 1984"]
    escaped = [json.dumps(w)[1:-1] for w in words]  # "Qu\u00e9m\u00e9ner", as json.dumps writes it
    return sorted({w.lower() for w in [*words, *escaped]})


def hits(where: str, text: str) -> list[str]:
    lowered = text.lower()
    return [f"{where}: {word!r}" for word in forms_of_the_identity() if word in lowered]


def as_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def to_accompaniment(stack, api) -> str:
    """The journey, from the intake to the signed convention (R10), through the API and the links."""
    journey_id = api.create_journey(intake(0, "cdaph", person=PERSON, situation="employed", employer=EMPLOYER),
                                    as_=MANAGER)["id"]
    assign = api.wait_task(journey_id, "assign_counsellor")
    done = api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                       json={"outcome": {"counsellor_id": stack.platform.counsellor}})
    assert done.status_code == 200, done.text
    evaluation = api.wait_task(journey_id, "shared_evaluation", as_=C1)
    done = api.request("POST", f"/api/v1/tasks/{evaluation['id']}/complete", C1, json={"outcome": {
        "evaluated_on": paris_today().isoformat(), "wishes": "Rester en poste", "needs": "Adapter les horaires",
        "resources": "Une collègue référente"}})
    assert done.status_code == 200, done.text
    draft = api.wait_task(journey_id, "draft_convention", as_=C1)
    outcome = draft_outcome(person_signatory={"name": f"{FIRST} {LAST}", "email": EMAIL})
    done = api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": outcome})
    assert done.status_code == 200, done.text

    def links() -> list[str] | None:
        found = [re.search(r"https?://[^/\s]+(/signature/\S+)", m.get_body(("plain",)).get_content()).group(1)
                 for m in list(stack.smtp.messages) if m["X-Eaflow-Kind"] == "convention_to_sign"]
        return found if len(found) == 2 else None

    for path, name in zip(wait_until(links, 60, "the two signing links"), ("Signataire", "Signataire")):
        signed = api.http.post(path, data={"decision": "sign", "signer_name": name, "agree": "yes"})
        assert signed.status_code == 200, signed.text
    task = api.wait_task(journey_id, "sign_convention", as_=MANAGER)
    done = api.request("POST", f"/api/v1/tasks/{task['id']}/complete", MANAGER, json={"outcome": {"decision": "sign"}})
    assert done.status_code == 200, done.text
    wait_until(lambda: api.get(C1, f"/api/v1/journeys/{journey_id}")["state"] == "accompaniment", 60,
               "the accompaniment")
    return journey_id


async def temporal_texts(stack) -> dict[str, str]:
    """Everything the Temporal server keeps, as it keeps it: per workflow run and per schedule."""
    client = await stack.temporal_client()
    texts: dict[str, str] = {}
    async for execution in client.list_workflows():
        where = f"workflow {execution.id} ({execution.run_id})"
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        description = await handle.describe()
        history = await handle.fetch_history()
        texts[where] = "\n".join([
            execution.id, execution.run_id, execution.workflow_type,
            as_text(execution.raw_info.SerializeToString()),  # search attributes and memo, as listed
            as_text(description.raw_description.SerializeToString()),
            *(as_text(event.SerializeToString()) for event in history.events),
        ])
    async for listed in await client.list_schedules():
        description = await client.get_schedule_handle(listed.id).describe()
        texts[f"schedule {listed.id}"] = listed.id + "\n" + as_text(description.raw_description.SerializeToString())
    return texts


def test_r22_no_personal_data_in_logs_temporal_or_metrics(stack_factory):
    stack = stack_factory(QUIET_POLICY)
    worker_metrics = free_ports(1)[0]
    stack.extra_env["EAFLOW_WORKER_METRICS_PORT"] = str(worker_metrics)
    stack.start_temporal()
    stack.start_worker()
    api = stack.start_api(log_level="info")  # the access log too
    stack.smtp.refuse_once.add(EMAIL)  # a failed attempt too: its error names the address

    journey_id = to_accompaniment(stack, api)
    assert stack.smtp.refuse_once == set()  # the refusal happened; the retry delivered
    # The identity is in the database, and the person's mails name them: the search finds them there.
    assert api.get(C1, f"/api/v1/journeys/{journey_id}")["person"]["last_name"] == LAST
    mails = "\n".join(m.as_string() + m.get_body(("plain",)).get_content() for m in list(stack.smtp.messages))
    assert len(hits("mails", mails)) >= 3

    found: list[str] = []
    api_metrics = httpx.get(f"{api.url}/metrics", timeout=10)
    assert api_metrics.status_code == 200 and "eaflow_" in api_metrics.text
    found += hits("api /metrics", api_metrics.text)
    found += hits("worker metrics", httpx.get(f"http://127.0.0.1:{worker_metrics}/metrics", timeout=10).text)

    temporal = run(temporal_texts(stack))
    assert any(journey_id in where for where in temporal), sorted(temporal)  # the journey's workflows are there
    for where, text in temporal.items():
        found += hits(where, text)

    logs = sorted(stack.root.rglob("*.log"))
    assert {p.name for p in logs} >= {"api.log", "worker-1.log", "temporal-1.log"}
    assert "/api/v1/journeys" in (stack.root / "logs" / "api.log").read_text()  # the access log is on
    for path in logs:
        found += hits(f"log {path.name}", path.read_text(errors="replace"))

    assert found == [], "the person's identity outside the database (R22):\n" + "\n".join(found)
