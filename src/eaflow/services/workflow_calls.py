"""Sending messages to journeys, and turning what the workflow refused into a Refusal."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from temporalio.client import (
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from eaflow.services.refusals import Refusal

_STATUS = {"NotFound": 404, "Conflict": 409, "InvalidOutcome": 422, "RuleRefused": 422}
ATTEMPTS = 3


def refusal_of(error: ApplicationError) -> Refusal:
    details = error.details[0] if error.details else {}
    details = details if isinstance(details, dict) else {}
    status = _STATUS.get(error.type or "", 422)
    return Refusal(status, error.message, rule=details.get("rule"), errors=details.get("errors"))


async def call_workflow(send: Callable[[], Awaitable[Any]]) -> Any:
    """Send an update; retry with the same update id when the server aborted it, else 503.

    Under load the dev server can abort an update ("workflow update was aborted"); the SDK does not
    retry it. The same update id makes the retry harmless.
    """
    for attempt in range(ATTEMPTS):
        try:
            return await send()
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError):
                raise refusal_of(cause) from error
            raise Refusal(409, "Le parcours a refusé cette action dans son état actuel.") from error
        except RPCError as error:
            # "already completed" also answers an update that raced a continue-as-new: the next
            # run takes it, so retry before concluding that the journey has ended.
            if error.status == RPCStatusCode.NOT_FOUND and attempt == ATTEMPTS - 1:
                raise Refusal(409, "Ce parcours n'accepte plus d'action : il est terminé.") from error
            if attempt == ATTEMPTS - 1:
                raise Refusal(503, "Le moteur de parcours n'a pas pu traiter la demande ; réessayez.") from error
        except WorkflowUpdateRPCTimeoutOrCancelledError as error:
            if attempt == ATTEMPTS - 1:
                raise Refusal(503, "Le moteur de parcours n'a pas répondu à temps ; réessayez.") from error
        await asyncio.sleep(0.5 * (attempt + 1))
