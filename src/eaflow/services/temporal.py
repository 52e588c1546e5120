"""The process's connection to Temporal, shared by the API and the pages."""
from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.temporal_client import connect

log = logging.getLogger("eaflow.temporal")

TEMPORAL_DOWN = "Le moteur de parcours (Temporal) ne répond pas ; réessayez dans un instant."


class TemporalHolder:
    """Connects lazily and again after a failure, so the app starts (and says 503) without Temporal."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self) -> Client | None:
        """The client, or None when Temporal cannot be reached now."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self.settings), timeout=5)
                except Exception as error:  # noqa: BLE001 - reported as 503 by the callers
                    log.warning("temporal unavailable at %s: %s", self.settings.temporal_address, error)
        return self._client

    async def client(self) -> Client:
        """The client, or a 503 refusal."""
        client = await self.get()
        if client is None:
            raise Refusal(503, TEMPORAL_DOWN)
        return client
