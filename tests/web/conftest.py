"""The pages over the real app, a real worker, a real Temporal dev server, SMTP and database."""
from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from eaflow.app import create_app
from eaflow.worker import build_worker
from tests.api.conftest import Api
from tests.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return unescape(match.group(1))


class Pages:
    """A browser without a browser: one cookie jar per person, forms posted with their CSRF token."""

    def __init__(self, app, api: Api):
        self.app, self.api = app, api
        self._clients: dict[str, httpx.AsyncClient] = {}

    def client(self, who: str) -> httpx.AsyncClient:
        if who not in self._clients:
            self._clients[who] = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                                   base_url="http://test", timeout=30,
                                                   headers={"Accept": "text/html"})
        return self._clients[who]

    async def sign_in(self, email: str, password: str = PASSWORD, who: str | None = None) -> httpx.Response:
        http = self.client(who or email)
        form = await http.get("/connexion")
        return await http.post("/connexion", data={"email": email, "password": password, "suivant": "/",
                                                    "csrf_token": csrf_of(form.text)})

    async def get(self, who: str, url: str, **kwargs) -> httpx.Response:
        return await self.client(who).get(url, **kwargs)

    async def submit(self, who: str, url: str, data: dict | list, *, page: str | None = None,
                     files: dict | None = None) -> httpx.Response:
        """Post a form the way a browser does: with the CSRF token of the page it sits on."""
        http = self.client(who)
        token = csrf_of((await http.get(page or url)).text)
        fields: dict[str, list[str]] = {}
        for key, value in [*(data.items() if isinstance(data, dict) else data), ("csrf_token", token)]:
            fields.setdefault(key, []).append(value)
        return await http.post(url, data=fields, files=files)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


@pytest.fixture
def db_backend() -> str:
    return "sqlite"  # the services under the pages run on both backends in tests/api


@pytest.fixture
async def plain_pages(settings, platform):
    """The pages without Temporal (sign-in, sessions, reads): no worker, no dev server."""
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                 timeout=30) as http:
        browser = Pages(app, Api(http))
        yield browser
        await browser.close()


@pytest.fixture
async def pages(local_env, settings, platform):
    app = create_app(settings, client=local_env.client)
    async with build_worker(local_env.client, settings):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     timeout=30) as http:
            browser = Pages(app, Api(http))
            yield browser
            await browser.close()
