"""R10 avenants over HTTP with a real worker and a real SMTP server: once the convention is signed, a
new legal representative is asked for, the counsellor drafts the avenant from its prefill, the new
representative signs through the link read out of the caught mail, the platform through its task —
and the employer, whom it does not concern, is never asked. Every version stays readable."""
from __future__ import annotations

import pytest

from tests.api.test_convention import (
    EMPLOYER,
    EMPLOYER_IN,
    PERSON,
    REPRESENTATIVE,
    admitted_to_convention,
    draft_outcome,
    link_in,
    mails,
    manager_signs,
    pdf_text,
    sign,
    wait_mails,
    wait_state,
)
from tests.api.test_journeys_and_inbox import C1, C2

pytestmark = pytest.mark.xdist_group("dev-server")


async def signed_convention(api, platform, smtp) -> str:
    journey_id, draft = await admitted_to_convention(api, platform, situation="employed", employer=EMPLOYER_IN)
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
    assert done.status_code == 200, done.text
    for to, name in ((PERSON, "Léa Martin"), (EMPLOYER, "Paul Durand")):
        [mail] = await wait_mails(smtp, "convention_to_sign", to)
        assert (await sign(api, link_in(mail), name)).status_code == 200
    await manager_signs(api, journey_id)
    await wait_state(api, journey_id, "accompaniment")
    return journey_id


async def test_r10_avenant_for_a_new_legal_representative_signed_by_its_parties_only(
        api, settings, smtp_server, platform):
    journey_id = await signed_convention(api, platform, smtp_server)
    path = f"/api/v1/journeys/{journey_id}/convention/avenants"

    blank = await api.request("POST", path, C1, json={"kind": "legal_representative", "summary": " "})
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "summary"
    veille = await api.request("POST", path, C1, json={"kind": "veille", "summary": "Une veille"})
    assert veille.status_code == 422  # a veille goes through POST …/veille (R14)
    assert (await api.request("POST", path, C2, json={"kind": "employer", "summary": "x"})).status_code == 404

    body = {"kind": "legal_representative", "summary": "Jugement du 12/01/2027 : Mme Anne Roux, tutrice."}
    asked = await api.request("POST", path, C1, json=body)
    assert asked.status_code == 202, asked.text
    assert (await api.request("POST", path, C1, json=body)).json()["avenant"] == asked.json()["avenant"]

    draft = await api.wait_task(journey_id, "draft_avenant", C1)
    task = (await api.request("GET", f"/api/v1/tasks/{draft['id']}", C1)).json()
    assert task["context"]["avenant"]["summary"] == body["summary"]
    assert task["prefill"]["workplace_modalities"].startswith("Une visite par mois")
    assert (await wait_mails(smtp_server, "avenant_to_draft", "c1@test.fr"))

    missing = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1,
                                json={"outcome": {"changes": "Nouvelle tutrice."}})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "outcome.person_signatory"
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": {
        "changes": "Mme Anne Roux, tutrice, représente désormais la personne.",
        "signs_for_person": "legal_representative",
        "person_signatory": {"name": "Anne Roux", "email": REPRESENTATIVE, "quality": "tutrice"}}})
    assert done.status_code == 200, done.text

    [to_representative] = await wait_mails(smtp_server, "convention_to_sign", REPRESENTATIVE)
    shown = await api.http.get(link_in(to_representative))
    assert shown.status_code == 200 and "Objet de l" in shown.text and "Anne Roux" in shown.text
    journey = (await api.request("GET", f"/api/v1/journeys/{journey_id}", C1)).json()
    assert journey["convention"]["status"] == "signed" and journey["convention"]["version"] == 1  # still in force
    assert journey["convention"]["avenant"] == {"version": 2, "status": "signing", "kind": "legal_representative"}

    assert (await sign(api, link_in(to_representative), "Anne Roux")).status_code == 200
    await manager_signs(api, journey_id)
    for _ in range(300):
        convention = (await api.request("GET", f"/api/v1/journeys/{journey_id}/convention", C1)).json()
        if convention["signed_version"] == 2:
            break
        await __import__("asyncio").sleep(0.1)
    assert convention["signed_version"] == 2
    assert [(v["number"], v["kind"], v["status"]) for v in convention["versions"]] == [
        (1, "initial", "signed"), (2, "avenant", "signed")]
    # The employer was asked once, for version 1 only; the person's own link was not sent again.
    assert len(mails(smtp_server, "convention_to_sign", EMPLOYER)) == 1
    assert len(mails(smtp_server, "convention_to_sign", PERSON)) == 1
    copies = await wait_mails(smtp_server, "convention_signed", count=5)  # 3 for version 1, 2 for the avenant
    avenant_copies = [m for m in copies if "v2" in str(list(m.iter_attachments())[0].get_filename())]
    assert {m["To"] for m in avenant_copies} == {REPRESENTATIVE, "plateforme35@test.fr"}
    text = pdf_text(list(avenant_copies[0].iter_attachments())[0].get_content())
    assert "Anne Roux" in text and "Objet de l" in text
    first = await api.request("GET", f"/api/v1/journeys/{journey_id}/convention.pdf?version=1", C1)
    assert first.status_code == 200 and "Paul Durand" in pdf_text(first.content)  # still readable


async def test_r10_an_avenant_brings_in_the_employer_of_a_job_found_since_the_convention(
        api, settings, smtp_server, platform):
    """A person seeking work signs without an employer; an avenant for another change comes while they
    now hold a job: the employer is a party of that avenant too (R10), refused without it, beside the field."""
    from tests.api.test_employment import opening

    journey_id, draft = await admitted_to_convention(api, platform)  # seeking at intake: no employer
    done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1,
                             json={"outcome": draft_outcome(employer=None)})
    assert done.status_code == 200, done.text
    [mail] = await wait_mails(smtp_server, "convention_to_sign", PERSON)
    assert (await sign(api, link_in(mail), "Léa Martin")).status_code == 200
    await manager_signs(api, journey_id)
    await wait_state(api, journey_id, "accompaniment")

    asked = await api.request("POST", f"/api/v1/journeys/{journey_id}/convention/avenants", C1, json={
        "kind": "legal_representative", "summary": "Jugement du 12/01/2027 : Mme Anne Roux, tutrice."})
    assert asked.status_code == 202, asked.text
    job = await api.request("POST", f"/api/v1/journeys/{journey_id}/employment", C1,
                            json=opening(name="Mairie de Rennes", type_="public"))
    assert job.status_code == 201, job.text

    draft = await api.wait_task(journey_id, "draft_avenant", C1)
    complete = f"/api/v1/tasks/{draft['id']}/complete"
    outcome = {"changes": "Mme Anne Roux, tutrice, représente désormais la personne.",
               "signs_for_person": "legal_representative",
               "person_signatory": {"name": "Anne Roux", "email": REPRESENTATIVE, "quality": "tutrice"}}
    refused = await api.request("POST", complete, C1, json={"outcome": outcome})
    assert refused.status_code == 422, refused.text
    assert refused.json()["rule"] == "R10" and refused.json()["errors"][0]["field"] == "outcome.employer"
    employer = {"name": "Mairie de Rennes", "signatory": {"name": "Anne Le Goff", "email": "rh@rennes.fr"}}
    done = await api.request("POST", complete, C1, json={"outcome": {**outcome, "employer": employer}})
    assert done.status_code == 200, done.text
