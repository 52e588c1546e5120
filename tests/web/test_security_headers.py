"""Issue 15, headers: every kind of response carries what protects it (eaflow/security_headers.py).
Pages of each kind (workspace, sign-in, a public password link, a public signature link, an error page)
get the strict CSP, nosniff, no Referer, never framed, never cached; downloads and the API's JSON are
not cached and never sniffed; static assets stay cacheable; HSTS only when the public address is https."""
from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from eaflow.app import create_app
from tests.conftest import PASSWORD
from tests.web.conftest import csrf_of

MANAGER = "manager@test.fr"
SIGN_IN = "/connexion"  # (fetched before signing in: a signed-in visitor is sent on)
PAGE_KINDS = {
    "workspace": "/",
    "workspace, a person's list": "/personnes",
    "password link (unknown)": "/mot-de-passe/pas-un-vrai-lien",
    "signature link (malformed)": "/signature/cv-inconnue/pas-un-jeton",
    "error page": "/cette-page-n-existe-pas",
}
HSTS = "strict-transport-security"


async def signed_in_client(app, base_url: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, headers={"Accept": "text/html"})
    await http.__aenter__()
    form = await http.get("/connexion")
    signed = await http.post("/connexion", data={"email": MANAGER, "password": PASSWORD, "suivant": "/",
                                                 "csrf_token": csrf_of(form.text)})
    assert signed.status_code == 303
    return http


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
async def test_every_page_kind_carries_the_security_headers(settings, platform, https):
    base = "https://eaflow.plateforme35.fr" if https else "http://test"
    app = create_app(replace(settings, public_url=base))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as anonymous:
        sign_in = await anonymous.get(SIGN_IN)
    http = await signed_in_client(app, base)
    try:
        for kind, path in {"sign-in": SIGN_IN, **PAGE_KINDS}.items():
            page = sign_in if path == SIGN_IN else await http.get(path)
            assert page.headers["content-type"].startswith("text/html"), kind
            csp = page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[-1].split(";")[0], kind
            assert "script-src 'unsafe-inline'" not in csp and "default-src" in csp, kind
            assert page.headers["x-content-type-options"] == "nosniff", kind
            assert page.headers["referrer-policy"] == "no-referrer", kind
            assert page.headers["cache-control"] == "no-store", kind
            assert (page.headers.get(HSTS) == "max-age=31536000; includeSubDomains") is https, kind

        download = await http.get("/indicateurs/telecharger?format=csv")
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        assert download.headers["cache-control"] == "no-store" and download.headers["x-content-type-options"] == "nosniff"

        api = await http.get("/api/v1/me")  # JSON (a 401 here: the API wants a bearer token)
        assert api.headers["content-type"].startswith("application/") and api.headers["cache-control"] == "no-store"
        assert api.headers["x-content-type-options"] == "nosniff" and (HSTS in api.headers) is https

        asset = await http.get("/static/eaflow.css")
        assert asset.status_code == 200 and "no-store" not in asset.headers.get("cache-control", "")
        assert (HSTS in asset.headers) is https
    finally:
        await http.aclose()


async def test_a_response_keeps_a_header_it_sets_itself(settings, platform):
    """The signature pages render the convention with its own inline styles: their own, stricter CSP stays."""
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        page = await http.get("/signature/cv-inconnue/pas-un-jeton")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers.get_list("content-security-policy") == [page.headers["content-security-policy"]]
