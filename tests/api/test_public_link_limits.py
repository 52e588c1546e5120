"""Abuse limits of the public links (issue 15): the convention's signature links and the password links
answer 429 with Retry-After and a French page past `[limits]`, per address and per link, counted in the
database (two app instances on one database hold one count), invalid links counted like valid ones,
and a refusal that writes nothing and says nothing of whether the link exists."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import unescape

import httpx
import pytest
from sqlmodel import func, select

from eaflow.app import create_app
from eaflow.services import limits, password_links
from eaflow.services.db import db_scope
from eaflow.store.accounts import PasswordLink
from eaflow.store.convention import Signature
from eaflow.store.db import session_scope
from eaflow.store.limits import PublicLinkAttempt
from eaflow.store.models import AuditEvent, User
from eaflow.worker import build_worker
from tests.api.conftest import Api
from tests.api.test_convention import EMPLOYER, admitted_to_convention, draft_outcome, link_in, wait_mails
from tests.api.test_journeys_and_inbox import C1
from tests.conftest import with_policy

ALICE, BOB, CAROL, DAVE = "198.51.100.7", "203.0.113.20", "192.0.2.33", "2001:db8::44"
LIMITS = """\
[limits]
public_link_max_per_address = 4
public_link_address_window = "PT10M"
public_link_max_per_link = 3
public_link_link_window = "PT10M"
"""


def policy(settings, tmp_path, text: str = LIMITS):
    path = tmp_path / "limits.toml"
    path.write_text(text)
    return with_policy(settings, path)


@pytest.fixture
def limited(settings, tmp_path):
    return policy(settings, tmp_path)


def browser(app, address: str) -> httpx.AsyncClient:
    """A visitor at `address` (what the app reads as the client's address)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50123)),
                             base_url="http://test", timeout=30, headers={"Accept": "text/html"})


def bad_link(n: int, convention: str = "j-0000-cv") -> str:
    return f"/signature/{convention}/st-{n:024d}.9999999999.pas-une-signature"


def count(settings, model) -> int:
    with session_scope(settings.db_url) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def reads(settings, journey_id: str) -> int:
    with session_scope(settings.db_url) as session:
        return session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.journey_id == journey_id, AuditEvent.action == "convention_read")).one()


def assert_limited(response: httpx.Response, *, at_most: int) -> int:
    """A 429 French page with its Retry-After (seconds, at most `at_most`); returns the seconds."""
    assert response.status_code == 429, (response.status_code, response.text)
    assert "text/html" in response.headers["content-type"] and '<html lang="fr">' in response.text
    text = unescape(response.text)
    assert "Trop de tentatives" in text and "Trop de demandes ont été faites en peu de temps" in text
    wait = response.headers["retry-after"]
    assert wait.isdigit() and 1 <= int(wait) <= at_most, wait
    return int(wait)


async def test_an_address_trying_signing_links_is_refused_past_its_limit_invalid_links_counted(limited):
    app = create_app(limited)
    async with browser(app, ALICE) as alice:
        for n in range(4):  # the page and its PDF alike, four different links that do not exist
            response = await alice.get(bad_link(n) + ("/convention.pdf" if n % 2 else ""))
            assert response.status_code == 404 and "Lien non valide" in unescape(response.text)
        refused = await alice.get(bad_link(99))
        wait = assert_limited(refused, at_most=600)
        assert "réessayez dans 10 minutes" in unescape(refused.text) and wait > 590
        assert "Lien non valide" not in unescape(refused.text)  # nothing said about the link
        assert_limited(await alice.post(bad_link(100), data={"decision": "sign"}), at_most=600)  # before Temporal
        assert_limited(await alice.get(bad_link(101) + "/convention.pdf"), at_most=600)
    assert count(limited, PublicLinkAttempt) == 4  # a refused request writes nothing, nor extends the wait
    assert count(limited, AuditEvent) == 0


async def test_other_addresses_are_not_affected_by_one_address_past_its_limit(limited):
    app = create_app(limited)
    async with browser(app, ALICE) as alice, browser(app, BOB) as bob:
        for n in range(4):
            assert (await alice.get(bad_link(n))).status_code == 404
        assert (await alice.get(bad_link(4))).status_code == 429
        assert (await bob.get(bad_link(5))).status_code == 404
        assert (await bob.get("/mot-de-passe/pas-un-vrai-lien")).status_code == 404


async def test_one_link_is_limited_from_every_address_and_its_token_is_never_stored(limited):
    app = create_app(limited)
    link = bad_link(7)
    token = link.rsplit("/", 1)[1]
    async with browser(app, ALICE) as alice, browser(app, BOB) as bob, browser(app, CAROL) as carol, \
            browser(app, DAVE) as dave:
        for visitor in (alice, bob, carol):
            assert (await visitor.get(link)).status_code == 404
        assert_limited(await dave.get(link), at_most=600)  # a fourth address, the same link
        assert_limited(await dave.get(link + "/convention.pdf"), at_most=600)  # the same link's PDF
        assert (await dave.get(bad_link(8))).status_code == 404  # another link from that address
    with session_scope(limited.db_url) as session:
        rows = session.exec(select(PublicLinkAttempt)).all()
    assert {row.address for row in rows} == {ALICE, BOB, CAROL, DAVE} and {row.kind for row in rows} == {"signature"}
    assert all(token not in value and "pas-une-signature" not in value
               for row in rows for value in (row.link_hash, row.address, row.kind))


async def test_the_limit_reached_through_one_api_process_holds_through_another_on_the_same_database(limited):
    first, second = create_app(limited), create_app(limited)
    async with browser(first, ALICE) as through_first, browser(second, ALICE) as through_second:
        for n in range(2):
            assert (await through_first.get(bad_link(n))).status_code == 404
            assert (await through_second.get(f"/mot-de-passe/faux-{n}")).status_code == 404
        assert_limited(await through_second.get(bad_link(9)), at_most=600)
        assert_limited(await through_first.get("/mot-de-passe/faux-9"), at_most=600)
    for link in (bad_link(10), bad_link(10)):  # and one link's count too, from another address
        async with browser(first, BOB) as bob:
            assert (await bob.get(link)).status_code == 404
    async with browser(second, CAROL) as carol:
        assert (await carol.get(bad_link(10))).status_code == 404
        assert_limited(await carol.get(bad_link(10)), at_most=600)


async def test_retry_after_is_when_the_oldest_counted_request_leaves_its_window(limited):
    now = datetime.now(timezone.utc)
    for minutes in (9, 8, 5, 1):  # four requests of ALICE, the first nine minutes ago
        assert limits.admit(limited, "signature", ALICE, f"c-cv/t{minutes}", now=now - timedelta(minutes=minutes)) is None
    app = create_app(limited)
    async with browser(app, ALICE) as alice:
        wait = assert_limited(await alice.get(bad_link(1)), at_most=60)
        assert wait >= 55 and "réessayez dans 1 minute," in unescape((await alice.get(bad_link(1))).text)
    # the pure rule: the oldest of the requests that keep the count at the limit leaves the window then
    rule = limits.Limit(most=3, window=timedelta(minutes=10))
    at = [now - timedelta(minutes=m) for m in (7, 6, 2)]
    assert limits.wait_after(at, rule, now) == 180
    assert limits.wait_after(at[1:], rule, now) is None
    assert limits.wait_after([now - timedelta(minutes=12), *at[1:]], rule, now) is None
    assert limits.wait_after([now - timedelta(minutes=8), *at], rule, now) == 180  # four counted: when the 2nd oldest leaves


async def test_old_requests_are_pruned_past_the_longest_window(limited):
    now = datetime.now(timezone.utc)
    limits.admit(limited, "password", BOB, "ancien", now=now - timedelta(hours=2))
    limits.admit(limited, "password", BOB, "recent", now=now - timedelta(minutes=9))
    app = create_app(limited)
    async with browser(app, ALICE) as alice:
        assert (await alice.get("/mot-de-passe/un-autre")).status_code == 404
    with session_scope(limited.db_url) as session:
        kept = session.exec(select(PublicLinkAttempt.address, PublicLinkAttempt.link_hash)).all()
    assert sorted(kept) == sorted([(BOB, limits.link_hash("password", "recent")),
                                   (ALICE, limits.link_hash("password", "un-autre"))])


async def test_a_password_link_past_its_limit_is_refused_like_an_invalid_one_and_sets_nothing(limited, platform):
    with db_scope(limited) as session:
        user = session.get(User, platform.counsellor)
        issued = password_links.issue(session, limited, user, None)
        password_before = user.password_hash
    app = create_app(limited)
    valid, invalid = f"/mot-de-passe/{issued.token}", "/mot-de-passe/pas-un-vrai-lien"
    async with browser(app, ALICE) as alice, browser(app, BOB) as bob:
        page = await alice.get(valid)
        assert page.status_code == 200 and "c1@test.fr" in page.text
        assert (await alice.get(valid)).status_code == 200  # reloaded
        typed = {"password": "un mot de passe assez long", "confirmation": "un mot de passe assez long"}
        assert (await alice.post(valid, data=typed)).status_code == 403  # a POST counts, even refused by CSRF
        refused_valid = await bob.post(valid, data=typed)  # the link's fourth request, from another address
        assert_limited(refused_valid, at_most=600)
        assert "c1@test.fr" not in refused_valid.text

        for n in range(4):
            assert (await bob.get(f"{invalid}-{n}")).status_code == 404
        refused_invalid = await bob.get(f"{invalid}-4")  # BOB's fifth counted request: his address's limit
        assert_limited(refused_invalid, at_most=600)
    # the same page, whether the link exists or not (but for the address it was asked at)
    assert unescape(refused_valid.text).replace(valid, "") == unescape(refused_invalid.text).replace(f"{invalid}-4", "")
    with session_scope(limited.db_url) as session:
        link = session.get(PasswordLink, issued.link_id)
        assert link.closed_at is None and session.get(User, platform.counsellor).password_hash == password_before


async def test_the_national_limits_let_a_person_reload_and_stop_a_script(settings):
    app = create_app(settings)  # the national defaults: 20 per link, 30 per address, within 10 minutes
    async with browser(app, ALICE) as person, browser(app, BOB) as script:
        for _ in range(20):  # the page, reloaded again and again, and a few tries of the form
            assert (await person.get(bad_link(1))).status_code == 404
        assert_limited(await person.get(bad_link(1)), at_most=600)
        for n in range(30):
            assert (await script.get(f"/mot-de-passe/essai-{n}")).status_code == 404
        assert_limited(await script.get("/mot-de-passe/essai-30"), at_most=600)


async def test_the_policy_values_are_honoured(settings, tmp_path):
    loose = policy(settings, tmp_path, '[limits]\npublic_link_max_per_address = 2\npublic_link_address_window = "PT2M"'
                                       '\npublic_link_max_per_link = 1\npublic_link_link_window = "PT1M"\n')
    app = create_app(loose)
    async with browser(app, ALICE) as alice, browser(app, BOB) as bob:
        assert (await alice.get(bad_link(1))).status_code == 404
        assert_limited(await bob.get(bad_link(1)), at_most=60)  # one per link, for a minute
        assert (await alice.get(bad_link(2))).status_code == 404
        assert_limited(await alice.get(bad_link(3)), at_most=120)  # two per address, for two minutes


@pytest.mark.xdist_group("dev-server")
async def test_a_real_signing_link_works_under_its_limit_then_gets_the_same_429_and_records_nothing(
        local_env, settings, tmp_path, platform, smtp_server):
    limited = policy(settings, tmp_path, LIMITS.replace("max_per_address = 4", "max_per_address = 20"))
    app = create_app(limited, client=local_env.client)
    async with build_worker(local_env.client, limited), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30) as http:
        api = Api(http)
        journey_id, draft = await admitted_to_convention(api, platform)
        done = await api.request("POST", f"/api/v1/tasks/{draft['id']}/complete", C1, json={"outcome": draft_outcome()})
        assert done.status_code == 200, done.text
        link = link_in((await wait_mails(smtp_server, "convention_to_sign", EMPLOYER))[0])
        async with browser(app, ALICE) as employer, browser(app, BOB) as other:
            assert (await employer.get(link)).status_code == 200
            assert (await employer.get(link + "/convention.pdf")).status_code == 200
            assert (await employer.get(link)).status_code == 200
            assert reads(limited, journey_id) == 3  # R22: the party's reads, and nothing after them
            refused = await employer.post(link, data={"decision": "sign", "signer_name": "Paul Durand", "agree": "yes"})
            assert_limited(refused, at_most=600)
            assert_limited(await other.get(link), at_most=600)  # the link's limit, from any address
            assert "Boulangerie" not in refused.text and "Paul Durand" not in refused.text
            for _ in range(3):  # an invalid link of the same convention, to its own limit
                assert (await other.get(bad_link(0, link.split("/")[2]))).status_code == 404
            refused_invalid = await other.get(bad_link(0, link.split("/")[2]))
            assert_limited(refused_invalid, at_most=600)
        assert refused.text == refused_invalid.text  # a genuine link's refusal reveals nothing more
        assert count(limited, Signature) == 0 and reads(limited, journey_id) == 3
