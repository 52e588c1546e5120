"""The explicit mark of a route that needs no sign-in (here, beside roles.py, so that the API and the
pages both import it without importing each other).

Every route of the app (API and pages) either depends on a signed-in user (`deps.current_user`, a
`deps.require(...)` check, the pages' `web.session.signed_in`) or carries this mark with the reason it
is open:

    @router.get("/healthz", dependencies=[public("a load balancer asks without an account")])

tests/api/test_every_route_authorised.py walks every route's dependency graph and fails on a route that
has neither, so a new route cannot ship open by accident; `grep -rn "public(" src/eaflow` lists the open
ones with their reasons. The mark checks nothing at run time: what protects such a route (a signed link's
token, a one-use password link, the sign-in form itself) is the route's own business, and its reason
says which.
"""
from __future__ import annotations

from fastapi import Depends
from fastapi.params import Depends as DependsParam


class Public:
    """A dependency that does nothing but say, in the route's dependency graph, why the route is open."""

    def __init__(self, why: str):
        if not why.strip():
            raise ValueError("a public route says why it needs no sign-in")
        self.why = why

    def __call__(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"Public({self.why!r})"


def public(why: str) -> DependsParam:
    """`dependencies=[public("why")]`: this route is meant to need no sign-in, for this reason."""
    return Depends(Public(why))
