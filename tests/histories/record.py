"""Record journey histories for the replay test: `python -m tests.histories.record [NAME ...]`.

Run it when a new workflow shape ships, and commit the JSON files: from then on, every change to
the workflow code must replay them (or be guarded by `workflow.patched`).

Without names it records only the histories that are not recorded yet: a history recorded by an
older version of the code is the point of the replay test, so it is never overwritten unless named.
- entry_refused, entry_spe_to_evaluation: the entry (recorded before the convention existed: these
  end waiting after the shared evaluation, the shape of the journeys started then);
- entry_cdaph_decision_mailed_beside_waiting_list: a CDAPH orientation admitted, the R4 decision
  mailed beside the waiting list (patch "entry-decision-mailed-beside-the-waiting-list");
- convention_refused_redrafted_signed: the convention (R10) drafted, refused by the employer,
  re-drafted, reminded, signed by every party over the public signing pages, then accompaniment.
- accompaniment_to_exit: the accompaniment's procedures side by side (patch "accompaniment"): a
  quarterly interview planned and held (R12), a contact, a veille that ends on its date (R14) with
  its avenant signed by the parties (R10), a relaunch ended by a reached attempt
  (R17), then an exit at the person's request approved by a manager (R15, R18): the run that ends
  in the continue-as-new of a closed journey.
- accompaniment_to_exit_local_steps: the same journey in the shape of patches "local-database-steps"
  (the database steps as local activities: markers instead of activity events), "run-at-most" (the
  timer of the run's age) and "durable-contact-nudges" (the relaunch waits for nudges instead of
  re-reading the contacts every month).
- accompaniment_to_move_handed_over: the same accompaniment in the shape of December 2026 (patches
  "veille-bounded-period", "r17-every-channel", "rights-from-intake"), ending in a move to a
  département whose platform is elsewhere: the file handed over, its acknowledgement recorded, the
  journey transferred (patch "r15-handover").
- entry_spe_waiting_list_at_once: a SPE prescription on the waiting list at once, the CDAPH informed
  beside it after the counsellor was designated (patch "spe-waiting-list-at-once").
- accompaniment_accepted_before_writing: the accompaniment to an exit at the person's request, each
  update first made durable by its `update_accepted` activity (patch "updates-accepted-before-writing",
  issue 19).
"""
from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from eaflow.app import create_app
from eaflow.policy import Policy
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.migrate import upgrade
from eaflow.store.models import Journey
from tests.conftest import Platform, binary
from tests.smtp_fixture import SmtpServer
from tests.workflow.helpers import complete, intake, open_tasks, running_worker, start, today

HERE = Path(__file__).parent
NAMES = ("entry_refused", "entry_spe_to_evaluation", "convention_refused_redrafted_signed",
         "entry_cdaph_decision_mailed_beside_waiting_list", "accompaniment_to_exit", "accompaniment_to_exit_local_steps",
         "accompaniment_to_move_handed_over", "entry_spe_waiting_list_at_once", "accompaniment_accepted_before_writing")
# One scenario, in successive shapes (the last ends in a move instead of the person's request).
ACCOMPANIMENT = ("accompaniment_to_exit", "accompaniment_to_exit_local_steps", "accompaniment_to_move_handed_over",
                 "accompaniment_accepted_before_writing")


async def wait_task(settings, journey_id, kind):
    for _ in range(200):
        tasks = open_tasks(settings, journey_id, kind)
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.05)
    raise RuntimeError(kind)


async def wait_link(smtp: SmtpServer, to: str, count: int) -> str:
    for _ in range(300):
        found = [m for m in list(smtp.messages) if m["X-Eaflow-Kind"] == "convention_to_sign" and m["To"] == to]
        if len(found) >= count:
            body = found[count - 1].get_body(("plain",)).get_content()
            return re.search(r"http://test(/signature/\S+)", body).group(1)
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no link {count} to {to}")


async def entry(env, settings, platform) -> dict[str, str]:
    refused, _ = await start(env.client, settings, platform,
                             intake(person={"first_name": "A", "last_name": "B", "birth_date": "2015-01-01"}),
                             Policy())
    journey_id, _ = await start(env.client, settings, platform, intake(channel="france_travail"), Policy())
    task = await wait_task(settings, journey_id, "notify_cdaph")
    await env.sleep(timedelta(days=8))
    await complete(env.client, task, {"informed_on": today(), "how": "courrier"}, platform.manager)
    assign = await wait_task(settings, journey_id, "assign_counsellor")
    await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                   caseload=0, fte=1.0)
    evaluation = await wait_task(settings, journey_id, "shared_evaluation")
    await complete(env.client, evaluation, {"evaluated_on": today(), "wishes": "w", "needs": "n",
                                            "resources": "r"}, platform.counsellor)
    return {"entry_refused": refused, "entry_spe_to_evaluation": journey_id}


async def entry_spe_at_once(env, settings, platform) -> dict[str, str]:
    """A SPE prescription: a counsellor designated while the CDAPH information is still open beside."""
    journey_id, _ = await start(env.client, settings, platform, intake(channel="france_travail"), Policy())
    assign = await wait_task(settings, journey_id, "assign_counsellor")
    await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                   caseload=0, fte=1.0)
    await wait_task(settings, journey_id, "shared_evaluation")
    task = await wait_task(settings, journey_id, "notify_cdaph")
    await complete(env.client, task, {"informed_on": today(), "how": "courrier"}, platform.manager)
    return {"entry_spe_waiting_list_at_once": journey_id}


async def entry_cdaph(env, settings, platform) -> dict[str, str]:
    """A CDAPH orientation admitted, recorded with the R4 mails sent beside the waiting list."""
    journey_id, _ = await start(env.client, settings, platform, intake(), Policy())
    assign = await wait_task(settings, journey_id, "assign_counsellor")
    await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager,
                   caseload=0, fte=1.0)
    await wait_task(settings, journey_id, "shared_evaluation")
    return {"entry_cdaph_decision_mailed_beside_waiting_list": journey_id}


async def convention(env, settings, platform, smtp) -> dict[str, str]:
    person, employer = "lea.martin@example.fr", "rh@durand.fr"
    draft_outcome = {
        "workplace_modalities": "Une visite par mois sur le poste.", "rhythm": "Tous les quinze jours.",
        "person_signatory": {"name": "Léa Martin", "email": person},
        "employer": {"name": "Boulangerie Durand", "signatory": {"name": "Paul Durand", "email": employer}},
    }
    journey_id, _ = await start(env.client, settings, platform, intake(
        situation="employed", employer={"name": "Boulangerie Durand", "email": employer}), Policy())
    assign = await wait_task(settings, journey_id, "assign_counsellor")
    await complete(env.client, assign, {"counsellor_id": platform.counsellor}, platform.manager, caseload=0, fte=1.0)
    evaluation = await wait_task(settings, journey_id, "shared_evaluation")
    await complete(env.client, evaluation, {"evaluated_on": today(), "wishes": "w", "needs": "n", "resources": "r"},
                   platform.counsellor)
    app = create_app(settings, client=env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as http:
        draft = await wait_task(settings, journey_id, "draft_convention")
        await complete(env.client, draft, draft_outcome, platform.counsellor)
        await complete(env.client, await wait_task(settings, journey_id, "sign_convention"), {"decision": "sign"},
                       platform.manager)
        refused = await http.post(await wait_link(smtp, employer, 1), data={
            "decision": "refuse", "signer_name": "Paul Durand", "reason": "Annoncer les visites à l'avance."})
        assert refused.status_code == 200, refused.text
        redraft = await wait_task(settings, journey_id, "draft_convention")
        await complete(env.client, redraft, {**draft_outcome, "workplace_modalities": "Une visite annoncée."},
                       platform.counsellor)
        person_link, employer_link = await wait_link(smtp, person, 2), await wait_link(smtp, employer, 2)
        await env.sleep(timedelta(days=8))  # a reminder to every unsigned party
        for link, name in ((employer_link, "Paul Durand"), (person_link, "Léa Martin")):
            signed = await http.post(link, data={"decision": "sign", "signer_name": name, "agree": "yes"})
            assert signed.status_code == 200, signed.text
        await complete(env.client, await wait_task(settings, journey_id, "sign_convention"), {"decision": "sign"},
                       platform.manager)
    for _ in range(200):
        with session_scope(settings.db_url) as session:
            if session.get(Journey, journey_id).state == "accompaniment":
                break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError("the convention was not signed")
    return {"convention_refused_redrafted_signed": journey_id}


async def accompaniment(env, settings, platform, name: str) -> dict[str, str]:
    from eaflow.workflows.journey import JourneyWorkflow
    from eaflow.workflows.types import ExitProposal, Handover
    from tests.workflow.accompaniment_helpers import (
        contacts_changed, env_today, first_deadline, sign_every_party, to_accompaniment)
    from tests.workflow.test_rhythm import add_contact_row, sleep_to
    from tests.workflow.test_veille import start_veille, veille
    from eaflow.workflows.accompaniment import start_of

    journey_id = await to_accompaniment(env, settings, platform, Policy())
    handle = env.client.get_workflow_handle(journey_id)
    first_run = (await handle.describe()).run_id
    due = (await first_deadline(env, journey_id)).due
    await sleep_to(env, start_of(due - timedelta(days=13)))
    plan = await wait_task(settings, journey_id, "plan_interview")
    held = await env_today(env)
    await complete(env.client, plan, {"occurred_on": held.isoformat(), "duration_minutes": 60, "place": "service",
                                      "channel": "in_person", "participants": "person"}, platform.counsellor)
    add_contact_row(settings, journey_id, held + timedelta(days=1), interview=False)
    await contacts_changed(env, journey_id)
    today = await env_today(env)
    await start_veille(env, journey_id, veille(platform.counsellor, today, today + timedelta(days=30)))
    await env.sleep(timedelta(days=31))
    draft = await wait_task(settings, journey_id, "draft_avenant")  # the veille's avenant (R14)
    await complete(env.client, draft, {"changes": "Veille d'un mois, à la demande de la personne."},
                   platform.counsellor)
    await wait_task(settings, journey_id, "sign_convention")
    await sign_every_party(env, settings, platform, journey_id, 2, ["person", "employer"])
    failed = await env_today(env)
    add_contact_row(settings, journey_id, failed, interview=False, reached=False, channel="phone", duration_minutes=0)
    await contacts_changed(env, journey_id)
    await env.sleep(timedelta(days=35))
    attempt = await wait_task(settings, journey_id, "relaunch_attempt")
    await complete(env.client, attempt, {"occurred_on": (await env_today(env)).isoformat(), "channel": "phone",
                                         "reached": True, "duration_minutes": 20}, platform.counsellor)
    for _ in range(200):
        if not open_tasks(settings, journey_id, "relaunch_attempt"):
            break
        await asyncio.sleep(0.05)
    if name == "accompaniment_to_move_handed_over":
        await handle.execute_update(JourneyWorkflow.propose_exit, ExitProposal(
            reason="move", proposed_by=platform.counsellor,
            details={"department": "75", "consent_to_handover": True, "receiving_email": "contact@ea75.fr"},
            analysis="Déménagement à Paris.", handover_to=Handover(department="75", email="contact@ea75.fr")))
    else:
        await handle.execute_update(JourneyWorkflow.propose_exit, ExitProposal(
            reason="person_request", proposed_by=platform.counsellor,
            details={"informed": True, "low_intensity_offered": True},
            analysis="Nouvel emploi stable, souhait de la personne."))
    approval = await wait_task(settings, journey_id, "approve_exit")
    await complete(env.client, approval, {"decision": "approve", "consultation": "Entretien."}, platform.manager)
    if name == "accompaniment_to_move_handed_over":
        acknowledgement = await wait_task(settings, journey_id, "record_handover")
        await complete(env.client, acknowledgement, {"acknowledged_on": (await env_today(env)).isoformat(),
                                                     "how": "Courriel de réponse."},
                       platform.manager)
    await asyncio.wait_for(handle.result(), timeout=60)
    return {name: (journey_id, first_run)}


async def main(names: list[str]) -> None:
    smtp = SmtpServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), smtp_host=smtp.host, smtp_port=smtp.port, task_queue="record",
                            public_url="http://test")
        upgrade(settings.db_url)
        platform = Platform(settings)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server"), data_converter=pydantic_data_converter)
        try:
            async with running_worker(env.client, settings):
                recorded: dict[str, str] = {}
                if {"entry_refused", "entry_spe_to_evaluation"} & set(names):
                    recorded |= await entry(env, settings, platform)
                if "entry_spe_waiting_list_at_once" in names:
                    recorded |= await entry_spe_at_once(env, settings, platform)
                if "entry_cdaph_decision_mailed_beside_waiting_list" in names:
                    recorded |= await entry_cdaph(env, settings, platform)
                if "convention_refused_redrafted_signed" in names:
                    recorded |= await convention(env, settings, platform, smtp)
                for name in set(ACCOMPANIMENT) & set(names):  # the current code's shape, under that name
                    recorded |= await accompaniment(env, settings, platform, name)
                await asyncio.sleep(0.5)
                for name, wid in recorded.items():
                    if name not in names:
                        continue
                    wid, run_id = wid if isinstance(wid, tuple) else (wid, None)
                    history = await env.client.get_workflow_handle(wid, run_id=run_id).fetch_history()
                    (HERE / f"{name}.json").write_text(history.to_json())
                    print("recorded", name, len(history.events), "events")
        finally:
            await env.shutdown()
            smtp.stop()


if __name__ == "__main__":
    wanted = sys.argv[1:] or [name for name in NAMES if not (HERE / f"{name}.json").exists()]
    unknown = sorted(set(wanted) - set(NAMES))
    if unknown:
        sys.exit(f"unknown history: {', '.join(unknown)} (known: {', '.join(NAMES)})")
    if not wanted:
        print("every history is recorded; name one to record it again")
    else:
        asyncio.run(main(wanted))
