"""Abuse limits of the public links: the pages anyone holding a link may open without signing in (a
convention's signature link, /signature/…, and a password link, /mot-de-passe/…).

Every request to one of them counts, GET or POST, valid link or not (a script guessing tokens only
ever sends invalid ones): per address, and per link (the same path, from any address). Past
`[limits] public_link_max_per_address` requests from one address within
`public_link_address_window`, or `public_link_max_per_link` to one link within
`public_link_link_window`, the page answers 429 with the seconds to wait (`Retry-After`) until the
oldest of the requests that keep the count at the limit leaves its window. A refused request is not
counted (it writes nothing), so reloading a refused page does not extend the wait, and the refusal
is the same whether the link exists or not. The defaults let a person on a slow phone reload their
page many times, not a script try links by the thousand. Sign-in has its own throttle
(services/sessions.py), per account and per address.

The counts live in the database (`PublicLinkAttempt`), so they hold across every API process. A
count and its insert are one short transaction: on SQLite writers are serialised (BEGIN IMMEDIATE);
on PostgreSQL two requests at the same instant may both pass at the limit, which is good enough for
a limit that need not be exact to the request. Rows older than the longest window are deleted as
requests come (nothing else reads them).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete
from sqlmodel import Session, select

from eaflow.durations import Duration
from eaflow.policy import LimitsPolicy, load_policy
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.limits import PUBLIC_LINK_KINDS, PublicLinkAttempt
from eaflow.store.models import aware

MAX_ADDRESS = 100  # an IPv6 address is at most 45 characters; anything longer is cut


@dataclass(frozen=True)
class Limit:
    """At most `most` requests within `window`."""

    most: int
    window: timedelta


def _span(iso: str, now: datetime) -> timedelta:
    return now - Duration.parse(iso).before(now)


def limits_of(policy: LimitsPolicy, now: datetime) -> tuple[Limit, Limit]:
    """The per-address and the per-link limit of the policy."""
    return (Limit(policy.public_link_max_per_address, _span(policy.public_link_address_window, now)),
            Limit(policy.public_link_max_per_link, _span(policy.public_link_link_window, now)))


def wait_after(latest: list[datetime], limit: Limit, now: datetime) -> int | None:
    """Seconds to wait before one more request fits under `limit`, given the counted requests
    (at least the `limit.most` latest ones, any order), or None when it fits now. Pure."""
    recent = sorted(at for at in latest if at > now - limit.window)
    if len(recent) < limit.most:
        return None
    leaves = recent[len(recent) - limit.most] + limit.window  # then the count falls under the limit
    return max(1, math.ceil((leaves - now).total_seconds()))


def link_hash(kind: str, link: str) -> str:
    """What identifies a link in the counts: never its token in clear."""
    return hashlib.sha256(f"{kind}:{link}".encode()).hexdigest()


def _latest(session: Session, column, value: str, limit: Limit, now: datetime) -> list[datetime]:
    rows = session.exec(select(PublicLinkAttempt.at).where(column == value, PublicLinkAttempt.at > now - limit.window)
                        .order_by(PublicLinkAttempt.at.desc()).limit(limit.most)).all()
    return [aware(at) for at in rows]


def admit(settings: Settings, kind: str, address: str, link: str, *, now: datetime | None = None) -> int | None:
    """Count one request from `address` to the public link `link` (its path after the page's prefix)
    of `kind`; None when it is let through (and counted), or the seconds to wait (nothing written)."""
    if kind not in PUBLIC_LINK_KINDS:
        raise ValueError(f"unknown public link kind {kind!r}")
    now = now or datetime.now(timezone.utc)
    per_address, per_link = limits_of(load_policy(settings.policy_file).limits, now)
    address, hashed = (address or "unknown")[:MAX_ADDRESS], link_hash(kind, link)
    with db_scope(settings) as session:
        waits = [wait for wait in (
            wait_after(_latest(session, PublicLinkAttempt.address, address, per_address, now), per_address, now),
            wait_after(_latest(session, PublicLinkAttempt.link_hash, hashed, per_link, now), per_link, now),
        ) if wait is not None]
        if waits:
            return max(waits)
        session.add(PublicLinkAttempt(at=now, kind=kind, address=address, link_hash=hashed))
        oldest_kept = now - max(per_address.window, per_link.window)
        session.exec(delete(PublicLinkAttempt).where(PublicLinkAttempt.at <= oldest_kept))
    return None


def too_many_requests(seconds: int) -> Refusal:
    """The refusal past a limit, in French: it says nothing of whether the link exists."""
    minutes = max(1, math.ceil(seconds / 60))
    return Refusal(429, "Trop de demandes ont été faites en peu de temps sur ce lien ou depuis votre connexion. "
                        f"Par sécurité, cette page est suspendue : réessayez dans {minutes} "
                        f"minute{'s' if minutes > 1 else ''}, avec le même lien.",
                   headers={"Retry-After": str(seconds)}, retry_after=seconds)
