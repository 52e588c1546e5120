"""Contacts (R13) and intensity (R11): over HTTP with a real worker and Temporal dev server, and the
store functions on their own; each test runs on SQLite and on PostgreSQL (the `settings` fixture)."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from eaflow.store import contacts as store
from eaflow.store.accompaniment import Contact, ContactNudge, IntensityMonth
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, Journey
from eaflow.workflows.rules import month_start
from eaflow.workflows.task_kinds import ContactFields
from tests.api.test_journeys_and_inbox import C1, C2, MANAGER, PRESCRIBER, intake
from tests.store.test_rules_in_the_database import add_journey, race

pytestmark = pytest.mark.xdist_group("dev-server")

TODAY = date.today()
THIS_MONTH = month_start(TODAY)
LAST_MONTH = month_start(THIS_MONTH - timedelta(days=1))
TWO_MONTHS_AGO = month_start(LAST_MONTH - timedelta(days=1))
NOTE = "Compte rendu confidentiel : la personne parle de son traitement."


def contact(**changes) -> dict:
    body = {"occurred_on": TODAY.isoformat(), "duration_minutes": 90, "place": "workplace",
            "channel": "in_person", "participants": "both", "reached": True, "interview": True, "note": NOTE}
    body.update(changes)
    return body


async def admitted_journey(api, platform, **intake_overrides) -> str:
    """A journey admitted with C1 as its counsellor."""
    created = await api.request("POST", "/api/v1/journeys", MANAGER, json=intake(channel="cdaph", **intake_overrides))
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    assign = await api.wait_task(journey_id, "assign_counsellor", MANAGER)
    done = await api.request("POST", f"/api/v1/tasks/{assign['id']}/complete", MANAGER,
                             json={"outcome": {"counsellor_id": platform.counsellor}})
    assert done.status_code == 200, done.text
    await api.wait_task(journey_id, "shared_evaluation", C1)
    return journey_id


def rows(settings, model, *where) -> list:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(model).where(*where)).all())


def count(settings, model, *where) -> int:
    with session_scope(settings.db_url) as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


# ------------------------------------------------------------------------------- over HTTP
async def test_r11_r13_r21_contacts_recorded_listed_edited_deleted_and_traced(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    base = f"/api/v1/journeys/{journey_id}"

    # Record: the contact comes back with who recorded it.
    first = await api.request("POST", f"{base}/contacts", C1, json=contact())
    assert first.status_code == 201, first.text
    recorded = first.json()
    assert recorded["duration_minutes"] == 90 and recorded["place"] == "workplace" and recorded["note"] == NOTE
    assert recorded["recorded_by"]["id"] == platform.counsellor

    # Idempotency-Key: the same key gives the same contact, once.
    keyed = contact(occurred_on=LAST_MONTH.isoformat(), duration_minutes=480, place="service", interview=False)
    once = await api.request("POST", f"{base}/contacts", C1, json=keyed, headers={"Idempotency-Key": "cr-42"})
    again = await api.request("POST", f"{base}/contacts", C1, json=keyed, headers={"Idempotency-Key": "cr-42"})
    assert once.status_code == 201 and again.status_code == 200, (once.text, again.text)
    assert once.json()["id"] == again.json()["id"]
    assert count(settings, Contact, Contact.journey_id == journey_id) == 2

    # An attempt that reached no one: recorded, but no accompaniment time.
    attempt = await api.request("POST", f"{base}/contacts", C1, json=contact(
        duration_minutes=5, place="other", channel="phone", participants="person", reached=False,
        interview=False, note=None))
    assert attempt.status_code == 201, attempt.text
    manager_sees = await api.request("POST", f"{base}/contacts", MANAGER, json=contact(
        occurred_on=LAST_MONTH.isoformat(), duration_minutes=30, place="home", interview=False, note=None))
    assert manager_sees.status_code == 201, manager_sees.text

    # The list: newest first, page by page.
    listed = (await api.request("GET", f"{base}/contacts", C1)).json()
    days = [c["occurred_on"] for c in listed["items"]]
    assert days == sorted(days, reverse=True)
    assert len(listed["items"]) == 4 and listed["next_cursor"] is None
    seen, cursor = [], None
    while True:
        page = (await api.request("GET", f"{base}/contacts", MANAGER,
                                  params={"limit": 1, **({"cursor": cursor} if cursor else {})})).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c["id"] for c in listed["items"]]
    bad_cursor = await api.request("GET", f"{base}/contacts", C1, params={"cursor": "nope"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"

    # Edit: only what is sent changes; the merged contact is checked again.
    edited = await api.request("PATCH", f"{base}/contacts/{recorded['id']}", C1,
                               json={"duration_minutes": 781, "note": "Autre compte rendu."})
    assert edited.status_code == 200, edited.text
    assert edited.json()["duration_minutes"] == 781 and edited.json()["place"] == "workplace"
    assert edited.json()["updated_by"]["id"] == platform.counsellor

    # Delete: gone from the list and from the totals, kept in the database with who deleted it.
    deleted = await api.request("DELETE", f"{base}/contacts/{manager_sees.json()['id']}", C1)
    assert deleted.status_code == 204
    assert (await api.request("DELETE", f"{base}/contacts/{manager_sees.json()['id']}", C1)).status_code == 404
    assert len((await api.request("GET", f"{base}/contacts", C1)).json()["items"]) == 3
    [kept] = rows(settings, Contact, Contact.id == manager_sees.json()["id"])
    assert kept.deleted_by == platform.counsellor and kept.deleted_at is not None
    # Each change (four contacts, an edit, a deletion; not the repeated key) was told to the journey.
    [nudge] = rows(settings, ContactNudge, ContactNudge.journey_id == journey_id)
    assert (nudge.version, nudge.delivered) == (6, 6)

    # R11 month by month, months without a contact included; R13 workplace time.
    intensity = await api.request("GET", f"{base}/intensity", C1, params={
        "from": f"{TWO_MONTHS_AGO:%Y-%m}", "to": f"{THIS_MONTH:%Y-%m}"})
    assert intensity.status_code == 200, intensity.text
    assert [(m["month"], m["minutes"], m["hours"], m["workplace_hours"], m["level"], m["label"])
            for m in intensity.json()["items"]] == [
        (f"{TWO_MONTHS_AGO:%Y-%m}", 0, 0, 0, "allege", "Allégé"),
        (f"{LAST_MONTH:%Y-%m}", 480, 8, 0, "regulier", "Régulier"),
        (f"{THIS_MONTH:%Y-%m}", 781, 13.02, 13.02, "intensif", "Intensif"),
    ]
    assert intensity.json()["total"]["minutes"] == 1261
    default_range = (await api.request("GET", f"{base}/intensity", MANAGER)).json()["items"]
    assert len(default_range) == 12 and default_range[-1]["month"] == f"{THIS_MONTH:%Y-%m}"
    # The rows kept for the indicators say the same.
    kept_months = {(m.month, m.minutes, m.workplace_minutes, m.level)
                   for m in rows(settings, IntensityMonth, IntensityMonth.journey_id == journey_id)}
    assert kept_months == {(LAST_MONTH, 480, 0, "regulier"), (THIS_MONTH, 781, 781, "intensif")}

    # The journey resource shows this month's intensity and the last contact that reached the person.
    journey = (await api.request("GET", base, C1)).json()
    assert journey["intensity"]["level"] == "intensif" and journey["intensity"]["label"] == "Intensif"
    assert journey["intensity"]["hours_this_month"] == 13.02
    assert journey["last_contact_on"] == TODAY.isoformat()
    assert "next_interview_due" in journey
    assert "intensity" not in (await api.request("GET", base, PRESCRIBER)).json()  # R22

    # R21: each write traced with who did it; the note's text never in the trail.
    history = (await api.request("GET", f"{base}/history", MANAGER)).json()["items"]
    writes = [(e["action"], e["actor"]["id"]) for e in history if e["action"].startswith("contact_")]
    assert writes == [("contact_recorded", platform.counsellor)] * 3 + [
        ("contact_recorded", platform.manager), ("contact_edited", platform.counsellor),
        ("contact_deleted", platform.counsellor)]
    edit = next(e for e in history if e["action"] == "contact_edited")
    assert edit["detail"]["changes"] == {"duration_minutes": {"before": 90, "after": 781}, "note": "modifiée"}
    assert "contacts_read" in [e["action"] for e in history]
    assert NOTE not in json.dumps(history) and "Autre compte rendu" not in json.dumps(history)


async def test_r13_refusals_are_problems_and_write_nothing(api, settings, platform):
    journey_id = await admitted_journey(api, platform)
    base = f"/api/v1/journeys/{journey_id}"
    audit_before = count(settings, AuditEvent, AuditEvent.action.startswith("contact_", autoescape=True))

    def problem(response, status: int) -> dict:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return response.json()

    bad = problem(await api.request("POST", f"{base}/contacts", C1,
                                    json=contact(duration_minutes=-5, place="bureau")), 422)
    assert {e["field"] for e in bad["errors"]} == {"duration_minutes", "place"}
    future = (TODAY + timedelta(days=1)).isoformat()
    ahead = problem(await api.request("POST", f"{base}/contacts", C1, json=contact(occurred_on=future)), 422)
    assert [e["field"] for e in ahead["errors"]] == ["occurred_on"]
    problem(await api.request("POST", f"{base}/contacts", C1, json=contact(reached=False)), 422)  # interview
    problem(await api.request("POST", f"{base}/contacts", C1, json=contact(mood="bon")), 422)

    # Another caseload's counsellor does not see the journey at all; a prescriber has no access.
    for method, url, body in (("POST", f"{base}/contacts", contact()), ("GET", f"{base}/contacts", None),
                              ("GET", f"{base}/intensity", None)):
        problem(await api.request(method, url, C2, json=body), 404)
    problem(await api.request("POST", f"{base}/contacts", PRESCRIBER, json=contact()), 403)

    recorded = (await api.request("POST", f"{base}/contacts", C1, json=contact())).json()
    one = f"{base}/contacts/{recorded['id']}"
    problem(await api.request("PATCH", one, C2, json={"duration_minutes": 10}), 404)
    problem(await api.request("DELETE", one, C2), 404)
    moved = problem(await api.request("PATCH", one, C1, json={"occurred_on": future}), 422)
    assert moved["errors"][0]["field"] == "occurred_on"
    problem(await api.request("PATCH", one, C1, json={"duration_minutes": 2000}), 422)
    problem(await api.request("PATCH", one, C1, json={"reached": False}), 422)  # still an interview
    problem(await api.request("PATCH", one, C1, json={"place": None}), 422)
    problem(await api.request("PATCH", f"{base}/contacts/ct-unknown", C1, json={"note": "x"}), 404)
    unchanged = await api.request("PATCH", one, C1, json={"duration_minutes": 90})
    assert unchanged.status_code == 200 and unchanged.json()["updated_at"] is None
    [row] = rows(settings, Contact, Contact.journey_id == journey_id)
    assert (row.duration_minutes, row.occurred_on, row.reached, row.updated_at) == (90, TODAY, True, None)
    assert count(settings, AuditEvent, AuditEvent.action.startswith("contact_", autoescape=True)) == audit_before + 1

    problem(await api.request("GET", f"{base}/intensity", C1, params={"from": "2026-05", "to": "2026-04"}), 422)
    problem(await api.request("GET", f"{base}/intensity", C1, params={"from": "2026-13"}), 422)
    problem(await api.request("GET", f"{base}/intensity", C1, params={"from": "2000-01", "to": "2026-01"}), 422)

    # A journey whose file is closed takes no contact: 409, nothing written.
    refused = await api.request("POST", "/api/v1/journeys", MANAGER,
                                json=intake(channel="cdaph", rights={"rqth_until": "2020-01-01"}))
    assert refused.json()["state"] == "refused"
    closed = problem(await api.request("POST", f"/api/v1/journeys/{refused.json()['id']}/contacts", MANAGER,
                                       json=contact()), 409)
    assert "clos" in closed["detail"]
    assert count(settings, Contact, Contact.journey_id == refused.json()["id"]) == 0


async def test_r13_a_journey_that_cannot_be_told_still_gets_its_contact(api, settings, platform, caplog):
    """The contact is committed with its nudge before the workflow is told; a journey without a
    running workflow has no one to tell: logged, and nothing left pending for the relay."""
    with session_scope(settings.db_url) as session:  # a journey whose workflow does not exist
        session.add(Journey(id="j-no-workflow", platform_id=platform.platform_id, state="accompaniment",
                            channel="cdaph", situation="seeking", prescribed_on=TODAY,
                            counsellor_id=platform.counsellor))
    with caplog.at_level("WARNING", logger="eaflow.nudges"):
        created = await api.request("POST", "/api/v1/journeys/j-no-workflow/contacts", C1, json=contact())
    assert created.status_code == 201, created.text
    assert count(settings, Contact, Contact.journey_id == "j-no-workflow") == 1
    [warning] = [r for r in caplog.records if r.name == "eaflow.nudges"]
    assert warning.getMessage() == "contacts_changed not delivered to journey j-no-workflow: no running workflow"
    with session_scope(settings.db_url) as session:
        nudge = session.get(ContactNudge, "j-no-workflow")
        assert (nudge.version, nudge.delivered) == (1, 1)


# ------------------------------------------------------------------------- the store alone
def fields(day: date, minutes: int, **changes) -> ContactFields:
    values = dict(occurred_on=day, duration_minutes=minutes, place="service", channel="in_person",
                  participants="person", reached=True, interview=False, note="Note privée")
    values.update(changes)
    return ContactFields(**values)


def test_r11_r12_r13_store_keeps_months_facts_and_audit(settings, platform):
    url = settings.db_url
    add_journey(url, platform, "j-ct", state="accompaniment")
    march, april = date(2026, 3, 10), date(2026, 4, 2)
    with session_scope(url) as session:
        a, created = store.add_contact(session, "j-ct", fields(march, 100, interview=True), platform.counsellor, "ct-a")
        again, created_again = store.add_contact(session, "j-ct", fields(march, 999), platform.counsellor, "ct-a")
        assert created and not created_again and again is a
        store.add_contact(session, "j-ct", fields(april, 30, participants="employer", place="workplace"),
                          platform.counsellor, "ct-b")
        store.add_contact(session, "j-ct", fields(april, 0, reached=False, channel="phone"),
                          platform.counsellor, "ct-c")
    with session_scope(url) as session:
        assert store.contact_facts(session, "j-ct") == {
            "last_interview_on": march, "last_reached_on": march, "last_contact_on": april}
        assert session.get(Journey, "j-ct").last_contact_on == march
        store.edit_contact(session, "j-ct", "ct-a", fields(april, 500, interview=True), platform.manager)
    with session_scope(url) as session:
        months = {m.month: (m.minutes, m.workplace_minutes, m.level) for m in session.exec(select(IntensityMonth))}
        assert months == {date(2026, 3, 1): (0, 0, "allege"), date(2026, 4, 1): (530, 30, "regulier")}
        assert session.get(Journey, "j-ct").last_contact_on == april
        store.delete_contact(session, "j-ct", "ct-a", platform.manager)
        with pytest.raises(store.ContactNotFound):
            store.delete_contact(session, "j-ct", "ct-a", platform.manager)
    with session_scope(url) as session:
        assert session.get(IntensityMonth, ("j-ct", date(2026, 4, 1))).minutes == 30
        assert store.contact_facts(session, "j-ct") == {
            "last_interview_on": None, "last_reached_on": None, "last_contact_on": april}
        assert session.get(Journey, "j-ct").last_contact_on is None
        trail = session.exec(select(AuditEvent).where(AuditEvent.journey_id == "j-ct")
                             .order_by(AuditEvent.id)).all()
        assert [e.action for e in trail] == ["contact_recorded"] * 3 + ["contact_edited", "contact_deleted"]
        assert "Note privée" not in json.dumps([e.detail for e in trail])

    # A contact recorded as a task's outcome: once, however often the activity runs.
    interview = fields(april, 60, interview=True)
    with session_scope(url) as session:
        first = store.record_contact_from_task(session, "j-ct", "t-1", interview, platform.counsellor)
    with session_scope(url) as session:
        second = store.record_contact_from_task(session, "j-ct", "t-1", interview, platform.counsellor)
        assert second.id == first.id and second.task_id == "t-1"
        assert store.contact_facts(session, "j-ct")["last_interview_on"] == april
    assert count(settings, Contact, Contact.task_id == "t-1") == 1

    # A closed file takes no more contacts.
    add_journey(url, platform, "j-ct-exited", state="exited")
    with pytest.raises(store.JourneyClosed):
        with session_scope(url) as session:
            store.add_contact(session, "j-ct-exited", fields(april, 60), platform.counsellor, "ct-x")
    assert count(settings, Contact, Contact.journey_id == "j-ct-exited") == 0


def test_r11_two_contacts_recorded_at_once_both_count_in_the_month(settings, platform):
    """Two writers on one journey and month: the journey's row lock makes the month's total hold both."""
    url = settings.db_url
    add_journey(url, platform, "j-ct-race", state="accompaniment")
    day = date(2026, 5, 12)

    def writer(contact_id: str, minutes: int):
        def write(session):
            return store.add_contact(session, "j-ct-race", fields(day, minutes), platform.counsellor, contact_id)[0].id
        return write

    assert sorted(race(url, writer("ct-r1", 300), writer("ct-r2", 200))) == ["ct-r1", "ct-r2"]
    with session_scope(url) as session:
        month = session.get(IntensityMonth, ("j-ct-race", date(2026, 5, 1)))
        assert (month.minutes, month.level) == (500, "regulier")
