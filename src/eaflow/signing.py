"""Personal signing links (R10): `<public url>/signature/<convention id>/<token>`.

The token is `<token id>.<expiry, epoch seconds>.<HMAC-SHA256>`, the HMAC (key: EAFLOW_SECRET_KEY)
covering the convention id, the token id and the expiry: a token altered in any way, or moved under
another convention's address, fails the check before the database is asked anything. The token row
(store/convention.py SigningToken) makes it single use and binds it to one party of one version.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from eaflow.settings import Settings


class TokenError(Exception):
    """A link that cannot be used; `reason` is one of: malformed, tampered, expired, used, foreign,
    replaced, answered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def secret_key(settings: Settings) -> bytes:
    """EAFLOW_SECRET_KEY, or (embedded stack) a key generated once in DATA_DIR/secret_key."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process (the API or a worker) wrote it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    for _ in range(50):  # the writer may not have written it yet
        key = path.read_text().strip()
        if key:
            return key.encode()
        import time

        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it or set EAFLOW_SECRET_KEY")


def reading_keys(settings: Settings) -> list[bytes]:
    """The keys a link may be signed with: the current one, then those it replaced."""
    return [secret_key(settings), *(key.encode() for key in settings.previous_secret_keys)]


def token_id_for(key: str) -> str:
    """The token id of a link, derived from its mail key: a retried activity mints the same link."""
    return "st-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _mac(secret: bytes, convention_id: str, token_id: str, expires: int) -> str:
    digest = hmac.new(secret, f"{convention_id}|{token_id}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(secret: bytes, convention_id: str, token_id: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{token_id}.{expires}.{_mac(secret, convention_id, token_id, expires)}"


def read_token(secrets: bytes | Sequence[bytes], convention_id: str, token: str, now: datetime | None = None) -> str:
    """The token id of a valid, unexpired token for this convention, signed with one of `secrets`
    (`reading_keys`); TokenError otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(token) > 200:
        raise TokenError("malformed")
    token_id, expires, mac = parts[0], int(parts[1]), parts[2]
    keys = [secrets] if isinstance(secrets, bytes) else secrets
    if not any(hmac.compare_digest(mac, _mac(key, convention_id, token_id, expires)) for key in keys):
        raise TokenError("tampered")
    if (now or datetime.now(timezone.utc)).timestamp() >= expires:
        raise TokenError("expired")
    return token_id


def signing_url(settings: Settings, convention_id: str, token: str) -> str:
    return f"{settings.public_url}/signature/{convention_id}/{token}"
