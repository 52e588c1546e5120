"""Browser tests: Debian's Chromium, driven by Playwright, against a real stack served over HTTP
(uvicorn on a free port, a real worker, the Temporal dev server, SMTP and SQLite).

Chromium comes from the Debian package (`make test` installs it); Playwright never downloads a
browser here. Each test saves its screenshots under tests/browser/screenshots/ (not committed).
"""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, async_playwright

from eaflow.app import create_app
from eaflow.worker import build_worker
from tests.api.conftest import Api
from tests.conftest import PASSWORD, free_ports

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = ["--lang=fr-FR", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
async def chromium():
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


class Stack:
    def __init__(self, base_url: str, api: Api):
        self.base_url, self.api = base_url, api


@pytest.fixture
async def stack(local_env, settings, platform):
    """The app on a real port, with its worker; `api` reaches the same app over HTTP to set the scene."""
    (port,) = free_ports(1)
    app = create_app(settings, client=local_env.client)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with build_worker(local_env.client, settings):
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        base_url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                yield Stack(base_url, Api(http))
        finally:
            server.should_exit = True
            await serving


class Person:
    """One person at a browser: their own context (cookies), French, 1280 px wide."""

    def __init__(self, page: Page, base_url: str, name: str):
        self.page, self.base_url, self.name = page, base_url, name
        self.shots = 0

    async def goto(self, path: str):
        return await self.page.goto(self.base_url + path)

    async def sign_in(self, email: str, password: str = PASSWORD) -> None:
        await self.goto("/connexion")
        await self.page.get_by_label("Adresse électronique").fill(email)
        await self.page.get_by_label("Mot de passe").fill(password)
        await self.page.get_by_role("button", name="Se connecter").click()
        await self.page.wait_for_load_state()

    async def screenshot(self, test_name: str, what: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.shots += 1
        path = SCREENSHOTS / f"{test_name}-{self.shots:02d}-{what}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def serious_accessibility_violations(self) -> list[dict]:
        """axe-core's serious and critical violations on the page as it is now."""
        results = await Axe().run(self.page)
        return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                 "nodes": [n["target"] for n in v["nodes"]][:5]}
                for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


@pytest.fixture
async def people(chromium, stack):
    contexts = []

    async def open_as(name: str) -> Person:
        context = await chromium.new_context(locale="fr-FR", timezone_id="Europe/Paris",
                                             viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return Person(await context.new_page(), stack.base_url, name)

    yield open_as
    for context in contexts:
        await context.close()
