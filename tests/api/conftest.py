from __future__ import annotations

import httpx
import pytest

from eaflow.app import create_app
from eaflow.worker import build_worker
from tests.conftest import PASSWORD


class Api:
    """An HTTP client on the real app, signed in as one user at a time."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self.tokens: dict[str, str] = {}

    async def login(self, email: str) -> dict[str, str]:
        if email not in self.tokens:
            response = await self.http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[email] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[email]}"}

    async def request(self, method: str, url: str, as_: str, **kwargs) -> httpx.Response:
        headers = {**await self.login(as_), **kwargs.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def wait_task(self, journey_id: str, kind: str, as_: str, timeout: float = 15.0) -> dict:
        import asyncio

        for _ in range(int(timeout / 0.1)):
            response = await self.request("GET", "/api/v1/tasks", as_, params={"journey_id": journey_id, "kind": kind})
            items = response.json()["items"]
            if items:
                return items[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no open {kind} task on {journey_id}")


@pytest.fixture
async def api(local_env, settings, platform):
    app = create_app(settings, client=local_env.client)
    async with build_worker(local_env.client, settings):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as http:
            yield Api(http)
