"""R5 on the person's file page: a CDAPH orientation accepted without the prescriber's statement of
subsidiarity says so in the identity and rights section."""
from __future__ import annotations

import pytest

from tests.api.test_journeys_and_inbox import MANAGER, intake

pytestmark = pytest.mark.xdist_group("dev-server")
MISSING = "Motif de subsidiarité non renseigné par le prescripteur"


async def test_r5_the_file_page_notes_a_missing_subsidiarity_reason(pages, platform):
    created = await pages.api.request("POST", "/api/v1/journeys", MANAGER,
                                      json=intake(channel="cdaph", subsidiarity_reason=None))
    assert created.status_code == 201 and created.json()["state"] != "refused", created.text
    stated = await pages.api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph"))
    await pages.sign_in(MANAGER)
    page = await pages.get(MANAGER, f"/parcours/{created.json()['id']}")
    assert page.status_code == 200, page.text
    identity = page.text.split('id="identite"', 1)[1]
    assert MISSING in identity
    assert MISSING not in (await pages.get(MANAGER, f"/parcours/{stated.json()['id']}")).text
