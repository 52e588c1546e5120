"""Telling a journey's workflow that its contacts changed (R12, R17), at least once.

A change of contacts and its nudge (store/nudges.py) are committed together. `deliver` sends the
journey's `contacts_changed` update and marks the version delivered once the workflow accepted it.
What could not be delivered at once (Temporal down, an API stopped in between) the worker's relay
redelivers: every RELAY_EVERY it takes the nudges left pending for longer than GRACE. The update id
carries the version, so the API and the relay delivering the same nudge at once apply it once.

This is what lets the journey wait on its deadlines without polling the contacts in between.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from eaflow.store import nudges as store
from eaflow.store.db import session_scope
from eaflow.store.models import utcnow

CONTACTS_CHANGED = "contacts_changed"  # the journey workflow's update (no argument, returns a dict)
DELIVERY_TIMEOUT_SECONDS = 10.0
RELAY_EVERY = timedelta(minutes=1)
GRACE = timedelta(seconds=30)  # leave the API the time to deliver its own nudge
BATCH = 500

log = logging.getLogger("eaflow.nudges")


async def deliver(client: Client, db_url: str, journey_id: str, version: int) -> bool:
    """Tell the journey; True once nothing is left to tell (accepted, or no running workflow to tell)."""
    handle = client.get_workflow_handle(journey_id)
    try:
        await asyncio.wait_for(handle.execute_update(CONTACTS_CHANGED, id=f"contacts-changed-{version}",
                                                     result_type=dict), timeout=DELIVERY_TIMEOUT_SECONDS)
    except WorkflowUpdateFailedError:
        log.warning("contacts_changed refused by journey %s", journey_id, extra={"journey_id": journey_id})
    except RPCError as error:
        # "Not found" is also what an update racing a continue-as-new gets: ask before giving up.
        if error.status != RPCStatusCode.NOT_FOUND or await _running(client, journey_id):
            log.warning("contacts_changed not delivered to journey %s", journey_id, extra={"journey_id": journey_id})
            return False
        log.warning("contacts_changed not delivered to journey %s: no running workflow", journey_id,
                    extra={"journey_id": journey_id})
    except Exception:  # noqa: BLE001 - Temporal unreachable, timeout: the relay delivers it later
        log.warning("contacts_changed not delivered to journey %s", journey_id, extra={"journey_id": journey_id})
        return False
    try:
        await asyncio.to_thread(_mark_delivered, db_url, journey_id, version)
    except Exception:  # noqa: BLE001 - the database went away meanwhile: redelivered later, applied once
        log.warning("contacts_changed delivered to journey %s but not marked", journey_id,
                    extra={"journey_id": journey_id})
        return False
    return True


async def redeliver_pending(client: Client, db_url: str, *, grace: timedelta = GRACE, limit: int = BATCH) -> int:
    """Deliver the nudges pending for longer than `grace`; how many were delivered."""
    pending = await asyncio.to_thread(_pending, db_url, grace, limit)
    delivered = 0
    for journey_id, version in pending:
        delivered += await deliver(client, db_url, journey_id, version)
    return delivered


async def relay_forever(client: Client, db_url: str, *, every: timedelta = RELAY_EVERY,
                        grace: timedelta = GRACE) -> None:
    """The worker's relay: redeliver what is pending, every `every`, until cancelled."""
    while True:
        try:
            count = await redeliver_pending(client, db_url, grace=grace)
            if count:
                log.info("contact nudges redelivered: %d", count)
        except Exception:  # noqa: BLE001 - the database may be down for a while: try again later
            log.exception("contact nudges not redelivered")
        await asyncio.sleep(every.total_seconds())


async def _running(client: Client, journey_id: str) -> bool:
    """Whether the journey's workflow runs (when in doubt, yes: the nudge stays pending)."""
    try:
        description = await client.get_workflow_handle(journey_id).describe()
    except RPCError as error:
        return error.status != RPCStatusCode.NOT_FOUND
    return description.status == WorkflowExecutionStatus.RUNNING


def _mark_delivered(db_url: str, journey_id: str, version: int) -> None:
    with session_scope(db_url) as session:
        store.mark_delivered(session, journey_id, version)


def _pending(db_url: str, grace: timedelta, limit: int) -> list[tuple[str, int]]:
    with session_scope(db_url) as session:
        return store.pending(session, utcnow() - grace, limit)
