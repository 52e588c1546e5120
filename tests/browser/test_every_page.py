"""Every page of the counsellor's workspace, at 1280 and at 375 px wide: no serious or critical axe-core
violation, nothing wider than the screen (tables scroll inside their frame), a screenshot of each."""
from __future__ import annotations

import pytest

from tests.api.test_employment import in_accompaniment
from tests.api.test_journeys_and_inbox import C1
from tests.browser.test_counsellor_workspace import accessible

pytestmark = pytest.mark.xdist_group("browser")

WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))"""


async def test_every_page_is_accessible_and_fits_a_phone(people, stack, settings, platform, smtp_server):
    journey_id = await in_accompaniment(stack.api, smtp_server, platform)
    contact = await stack.api.request("POST", f"/api/v1/journeys/{journey_id}/contacts", C1, json={
        "occurred_on": "2026-11-02", "duration_minutes": 60, "place": "workplace", "channel": "in_person",
        "participants": "both", "reached": True, "interview": True, "note": "Visite sur le poste."})
    assert contact.status_code == 201, contact.text
    base = f"/parcours/{journey_id}"
    pages = {
        "inbox": "/", "persons": "/personnes", "file": base, "convention": f"{base}/convention",
        "contact": f"{base}/contacts/nouveau", "contact-edit": f"{base}/contacts/{contact.json()['id']}/modifier",
        "contact-delete": f"{base}/contacts/{contact.json()['id']}/supprimer", "job": f"{base}/emploi/nouveau",
        "rights": f"{base}/droits/appeal_decided", "veille": f"{base}/veille", "avenant": f"{base}/avenant",
        "exit-move": f"{base}/sortie/move", "exit-reorientation": f"{base}/sortie/reorientation",
        "not-found": "/parcours/j-inconnu",
    }
    c1 = await people("c1")
    await c1.sign_in(C1)
    for width in (1280, 375):
        await c1.page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            await c1.goto(path)
            await accessible(c1)
            assert await c1.page.evaluate(WIDER_THAN_THE_SCREEN) == [], f"{path} at {width} px"
            await c1.screenshot(f"page-{width}", name)
