"""The pages' side of tests/api/test_others_objects_answer_404.py: every page with an id in its address,
read or submitted by each role with someone else's object, answers exactly what it answers for an id
that does not exist (the same status and the same page), never a page that shows or does anything, and
writes nothing. The pages are discovered from the app (none is listed by hand); the objects are the API
test's world (two platforms, four journeys driven for real, reports, accounts) and a saved inbox view."""
from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from sqlmodel import select

from eaflow.app import create_app
from eaflow.store.accounts import SavedView
from eaflow.store.db import session_scope
from tests.api.test_journeys_and_inbox import C2
from tests.api.test_others_objects_answer_404 import MISSING, ROLE, Records, quiet, world

pytestmark = pytest.mark.xdist_group("dev-server")

# What each page parameter is, in the API test's ids.
PARAMETER = {"journey_id": "journey", "task_id": "task", "user_id": "user", "snapshot_id": "snapshot",
             "view_id": "view"}
VARYING = re.compile(r'(name="csrf_token" value=|nonce=)"[^"]*"')


def page_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every page with an id in its address."""
    return sorted({(method, route.path) for route in iter_route_contexts(app.routes)
                   if route.endpoint is not None and route.endpoint.__module__.startswith("eaflow.web")
                   and re.search(r"{(journey_id|task_id|item_id|user_id|snapshot_id|view_id)", route.path or "")
                   for method in route.methods or ()})


def url(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "item_id":  # a contact, or an employment episode
            return ids["contact"] if "/contacts/" in path else ids["episode"]
        if name == "format":
            return "pdf"
        return ids[PARAMETER[name]]
    return re.sub(r"{(\w+)(:\w+)?}", value, path)


def seen(response) -> tuple:
    return response.status_code, response.headers.get("location"), VARYING.sub(r"\1", response.text)


async def test_someone_elses_object_gets_the_page_of_a_missing_one_and_writes_nothing(
        pages, settings, smtp_server, platform):
    here = await world(pages.api, settings, smtp_server, platform)
    for viewer in (*ROLE, C2):
        signed = await pages.sign_in(viewer)
        assert signed.status_code == 303, signed.text
    saved = await pages.submit(C2, "/vues", {"name": "En retard", "kind": "", "avant": "", "personne": ""}, page="/")
    assert saved.status_code == 303, saved.text
    with session_scope(settings.db_url) as session:
        c2_view = str(session.exec(select(SavedView.id)).one())
    routes = page_routes(create_app(settings))
    assert ("GET", "/parcours/{journey_id}") in routes and len(routes) > 40  # the discovery works

    tokens = {viewer: re.search(r'name="csrf_token" value="([^"]+)"', (await pages.get(viewer, "/")).text)
              for viewer in ROLE}  # (the inbox traces its reads: before the records are taken)
    records = Records(settings)
    before = await quiet(records)
    wrong, checked = [], 0
    for viewer, kinds in here.others.items():
        token = tokens[viewer].group(1) if tokens[viewer] else ""
        objects = [ids for kind in kinds.values() for _, ids in kind]
        # one object of every kind at once, so that each page finds its parameters
        combos = [{**MISSING, "view": c2_view, "episode": MISSING["episode"], **ids} for ids in objects]
        for method, path in routes:
            async def ask(ids):
                if method == "GET":
                    return await pages.get(viewer, url(path, ids))
                return await pages.client(viewer).post(url(path, ids), data={"csrf_token": token})

            missing = await ask({**MISSING, "view": "999999"})
            for ids in combos:
                names = set(re.findall(r"{(\w+)", path)) - {"format"}
                kinds_used = {PARAMETER.get(n, "contact" if "/contacts/" in path else "episode") for n in names}
                if not any(ids[k] != MISSING.get(k, "999999") for k in kinds_used):
                    continue  # this object says nothing to this page
                got = await ask(ids)
                checked += 1
                line = f"{method} {path} as {ROLE[viewer]} {viewer} with {url(path, ids)}"
                if seen(got) != seen(missing):
                    wrong.append(f"{line}: {got.status_code} {got.headers.get('location', '')} where a missing id "
                                 f"gets {missing.status_code} {missing.headers.get('location', '')}")
                elif got.status_code < 300:
                    wrong.append(f"{line}: {got.status_code} for a missing id too")
                changed = Records.changed(before, records.now())
                if changed:
                    wrong.append(f"{line} wrote: {changed}")
                    before = records.now()
    assert wrong == [], f"{len(wrong)} wrong answers of {checked}:\n" + "\n".join(wrong)
    assert checked > 300
