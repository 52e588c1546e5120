"""The headers that protect every response, set in one place for the pages, the public link pages,
the error pages and the API alike.

HTML (every page kind: workspace, sign-in, signature and password links, errors): a strict
Content-Security-Policy (nothing inline, nothing from elsewhere, never framed), nosniff, no Referer
ever (a signature or password link must not leak through one), `no-store` (pages show a person's
data). The API's answers are not cached either. Strict-Transport-Security on every response when the
public address is https: the browser then never tries plain http again for a year.

A response that sets one of these headers itself keeps its own value (a PDF download its
Content-Disposition-friendly caching, say); /static is left cacheable.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
NOT_CACHED = {"Cache-Control": "no-store"}
HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
STATIC_PREFIX = "/static/"


def headers_for(content_type: str, path: str, *, https: bool) -> dict[str, str]:
    """The headers a response of this type, at this path, must carry."""
    wanted = dict(PAGE_HEADERS) if content_type.startswith("text/html") else dict(EVERY_RESPONSE)
    if not path.startswith(STATIC_PREFIX):
        wanted.update(NOT_CACHED)
    if https:
        wanted.update(HSTS)
    return wanted


class SecurityHeaders:
    """Pure ASGI middleware: adds what `headers_for` asks and the response does not already say."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                content_type = next((value.decode("latin-1") for name, value in raw if name.lower() == b"content-type"), "")
                for name, value in headers_for(content_type, scope.get("path", ""), https=self.https).items():
                    if name.lower().encode() not in present:
                        raw.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app, public_url: str) -> None:
    app.add_middleware(SecurityHeaders, https=public_url.lower().startswith("https://"))
