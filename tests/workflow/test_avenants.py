"""R10 avenants on the time-skipping server: a change during the accompaniment (a new employer, a new
legal representative) is drafted by the counsellor and signed again by the parties it concerns only;
the convention in force stays in force meanwhile, and every version stays readable."""
from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError

from eaflow.policy import Policy
from eaflow.store.convention import Convention, ConventionParty, ConventionVersion
from eaflow.store.db import session_scope
from eaflow.workflows.journey import JourneyWorkflow
from eaflow.workflows.types import AvenantRequest
from tests.workflow.accompaniment_helpers import journey_state, sign_every_party, to_accompaniment
from tests.workflow.helpers import complete, open_tasks, running_worker, snapshot_of
from tests.workflow.test_convention import mail_count, to_signature, until
from tests.workflow.test_journey_entry import wait_for_task

pytestmark = pytest.mark.xdist_group("time-skipping")

NEW_EMPLOYER = {"name": "Jardins du Rhin", "signatory": {"name": "Inès Kaya", "email": "drh@jardins.fr"}}


async def request(env, journey_id: str, kind: str, reference: str, summary: str = "") -> dict:
    handle = env.client.get_workflow_handle(journey_id)
    return await handle.execute_update(
        JourneyWorkflow.request_avenant,
        AvenantRequest(kind=kind, reference=reference, requested_by="c1", summary=summary),
        id=f"avenant:{kind}:{reference}")


def parties(settings, journey_id: str, number: int) -> dict[str, str]:
    with session_scope(settings.db_url) as session:
        rows = session.exec(select(ConventionParty).where(
            ConventionParty.version_id == f"{journey_id}-cv-v{number}")).all()
        return {p.role: p.name for p in rows}


def versions(settings, journey_id: str) -> list[tuple[int, str, str, bool]]:
    with session_scope(settings.db_url) as session:
        rows = session.exec(select(ConventionVersion).where(ConventionVersion.convention_id == f"{journey_id}-cv")
                            .order_by(ConventionVersion.number)).all()
        return [(v.number, v.kind, v.status, v.superseded_at is not None) for v in rows]


async def test_r10_avenant_for_a_new_employer_is_signed_by_its_parties_only(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        summary = "Nouvel employeur : Jardins du Rhin (CDD) à partir du 04/01/2027"
        first = await request(env, journey_id, "employer", "ep-1", summary)
        again = await request(env, journey_id, "employer", "ep-1", summary)  # the same change: one avenant
        assert first["avenant"] == again["avenant"] == "employer:ep-1"

        draft = await wait_for_task(settings, journey_id, "draft_avenant", env, attempts=200)
        assert draft.assignee_id == platform.counsellor
        assert draft.context["avenant"]["summary"] == summary
        await until(lambda: mail_count(settings, journey_id, "avenant_to_draft") == 1, "mail to the counsellor")

        # An employer avenant must name the new employer.
        with pytest.raises(WorkflowUpdateFailedError) as missing:
            await complete(env.client, draft, {"changes": "Changement d'employeur."}, platform.counsellor)
        assert missing.value.cause.type == "InvalidOutcome"
        await complete(env.client, draft, {"changes": "La personne travaille désormais aux Jardins du Rhin.",
                                           "employer": NEW_EMPLOYER}, platform.counsellor)
        await wait_for_task(settings, journey_id, "sign_convention", env, attempts=200)
        avenant_parties = parties(settings, journey_id, 2)
        assert set(avenant_parties) == {"platform", "person", "employer"}
        assert avenant_parties["employer"] == "Jardins du Rhin"
        # The convention in force stays in force while the avenant is signed.
        assert journey_state(settings, journey_id) == "accompaniment"
        with session_scope(settings.db_url) as session:
            assert session.get(Convention, f"{journey_id}-cv").signed_version_id == f"{journey_id}-cv-v1"
        # Links to the person and the new employer only (the former employer signed version 1).
        await until(lambda: mail_count(settings, journey_id, "convention_to_sign") == 4, "two new links")

        await sign_every_party(env, settings, platform, journey_id, 2, ["person", "employer"])
        await until(lambda: versions(settings, journey_id) == [(1, "initial", "signed", True),
                                                               (2, "avenant", "signed", False)],
                    f"the avenant in force: {versions(settings, journey_id)}", attempts=200)
        for _ in range(100):
            snapshot = await snapshot_of(env.client.get_workflow_handle(journey_id))
            if snapshot.convention.avenant is None:
                break
            await asyncio.sleep(0.1)
        assert snapshot.convention.in_force == 2 and snapshot.convention.avenant is None
        assert snapshot.state == "accompaniment"
        with session_scope(settings.db_url) as session:
            version = session.get(ConventionVersion, f"{journey_id}-cv-v2")
            assert version.content["avenant"]["changes"].startswith("La personne travaille")
            assert version.content["employer"]["name"] == "Jardins du Rhin"
            assert version.content["workplace_modalities"] == "Une visite par mois sur le poste."  # unchanged
            assert "Objet de l'avenant" in version.html
        # The signed copy goes to the avenant's parties: platform (mailbox and manager), person, employer.
        await until(lambda: mail_count(settings, journey_id, "convention_signed") == 3 + 3, "signed copies")


async def test_r10_a_new_legal_representative_signs_without_the_employer(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_accompaniment(env, settings, platform, Policy())
        await request(env, journey_id, "legal_representative", "jugement-2027-01")
        draft = await wait_for_task(settings, journey_id, "draft_avenant", env, attempts=200)
        with pytest.raises(WorkflowUpdateFailedError) as missing:
            await complete(env.client, draft, {"changes": "Nouveau tuteur."}, platform.counsellor)
        assert missing.value.cause.type == "InvalidOutcome"
        await complete(env.client, draft, {
            "changes": "Mme Anne Roux est désormais la tutrice de la personne.",
            "signs_for_person": "legal_representative",
            "person_signatory": {"name": "Anne Roux", "email": "anne.roux@example.fr", "quality": "tutrice"},
        }, platform.counsellor)
        await wait_for_task(settings, journey_id, "sign_convention", env, attempts=200)
        assert set(parties(settings, journey_id, 2)) == {"platform", "legal_representative"}
        await sign_every_party(env, settings, platform, journey_id, 2, ["legal_representative"])
        await until(lambda: versions(settings, journey_id)[-1] == (2, "avenant", "signed", False), "signed", 200)


async def test_r10_no_avenant_before_a_convention_is_signed(time_skipping_env, settings, platform):
    env = time_skipping_env
    async with running_worker(env.client, settings):
        journey_id = await to_signature(env, settings, platform, Policy())
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await request(env, journey_id, "employer", "ep-9")
        assert refused.value.cause.type == "Conflict"
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await request(env, journey_id, "salary", "x")
        assert unknown.value.cause.type == "InvalidOutcome"
        assert not open_tasks(settings, journey_id, "draft_avenant")
