"""A second factor for signing in: a one-time code of an authenticator application (TOTP, RFC 6238),
or one of ten recovery codes, after the password.

Why each piece is as it is:
- The TOTP secret is stored encrypted (AES-256-GCM, a key derived from EAFLOW_SECRET_KEY for this
  one purpose, the user's id bound to it): a copy of the database alone gives no codes. It is shown
  while the user enrols, and never again once confirmed.
- A code is accepted within one 30-second step either side of the server's clock (a phone's clock a
  little off), and never twice: the step of the last code accepted is kept (`last_step`), and only a
  later step passes (a conditional UPDATE, so two requests racing with the same code cannot both win).
- Recovery codes are random (10 characters of a 31-sign alphabet, about 50 bits), shown once, stored
  as an HMAC keyed like the secret (a stolen table cannot be guessed offline without the key), each
  usable once; a new set replaces the old one.
- After a right password, a user with a confirmed factor gets no session but a *pending* token
  (an `AccessToken` row of kind "second_factor", a few minutes long; `user_for_token` only ever
  accepts the kinds "web" and "api", so a pending token opens nothing). A user whose role the policy
  requires a factor of (`[accounts] second_factor_roles`) and who has none gets a pending token of
  kind "enrol" that opens the enrolment pages only: no other page can be reached before enrolling.
  A session or API token such a user opened before the policy required it stops working
  (`sessions.user_for_token`): they sign in again, and enrol.
- Every wrong code is a failure of the sign-in throttle (`SignInAttempt`, eaflow/services/sessions.py):
  429 with Retry-After after `sign_in_max_failures`. A right password followed by the second step is
  recorded as "second_step", not "success", so that the password alone never clears the account's count.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, select

from eaflow.services import roles, sessions
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.signing import reading_keys
from eaflow.store.accounts import RecoveryCode, SecondFactor, SignInAttempt
from eaflow.store.models import AccessToken, User, aware

ISSUER = "eaflow"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code of the previous or the next step is accepted too
DIGITS = 6
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
RECOVERY_LENGTH = 10
# The pending tokens between the password and the session: kinds that are never a session.
PENDING_CODE, PENDING_ENROL = "second_factor", "enrol"
PENDING_FOR = {PENDING_CODE: timedelta(minutes=5), PENDING_ENROL: timedelta(minutes=15)}

WRONG_CODE = "Ce code n'est pas valable : vérifiez-le dans votre application d'authentification (un code sert une fois, pendant 30 secondes)."
MISSING_CODE = "Saisissez le code à 6 chiffres de votre application d'authentification, ou un code de secours."
API_CODE_NEEDED = ("Ce compte se connecte avec une double authentification : envoyez aussi, dans le champ « otp », le code "
                   "à 6 chiffres de votre application d'authentification (ou un code de secours).")
API_WRONG_CODE = ("Le code de double authentification (champ « otp ») n'est pas valable : un code sert une fois, pendant "
                  "30 secondes ; vérifiez-le dans votre application d'authentification.")
API_ENROL_FIRST = ("Votre rôle exige une double authentification, que vous n'avez pas encore activée : connectez-vous à "
                   "l'espace de travail dans un navigateur pour l'activer, puis demandez un jeton ici avec le code.")
PENDING_EXPIRED = ("Cette étape de connexion a expiré ou n'est plus valable : saisissez à nouveau votre adresse et votre "
                   "mot de passe.")
ALREADY_ENABLED = "La double authentification est déjà active sur votre compte."
NOT_ENABLED = "La double authentification n'est pas active sur votre compte."
REQUIRED = ("Votre rôle exige la double authentification : elle ne peut pas être désactivée. Si vous avez perdu votre "
            "téléphone, demandez à un administrateur de la réinitialiser.")
OWN_RESET = "Pour votre propre compte, passez par la page « Sécurité du compte »."
UNKNOWN_ACCOUNT = "Ce compte n'existe pas."


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------------------- key material
def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"eaflow/second-factor/" + purpose).derive(secret)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def encrypt_secret(settings: Settings, user_id: str, secret: str) -> str:
    """`<key id>:<nonce + ciphertext, base64>`, under the current key, bound to the user."""
    key = _derive(reading_keys(settings)[0], b"totp-secret")
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), user_id.encode())
    return f"{_key_id(key)}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt_secret(settings: Settings, user_id: str, stored: str) -> str:
    """The secret, read with the key it was written with (the current one or one it replaced)."""
    written_with, _, data = stored.partition(":")
    raw = base64.b64decode(data)
    for secret in reading_keys(settings):
        key = _derive(secret, b"totp-secret")
        if _key_id(key) == written_with:
            try:
                return AESGCM(key).decrypt(raw[:12], raw[12:], user_id.encode()).decode()
            except InvalidTag:
                break
    raise RuntimeError(f"the second factor of {user_id} was encrypted with key {written_with}, unknown to this "
                       "process: keep the replaced key in EAFLOW_PREVIOUS_SECRET_KEYS")


def normalise(code: str | None) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())[:64]


def _code_hashes(settings: Settings, user_id: str, code: str) -> list[str]:
    """The stored form of a recovery code under each key in use (the current one first)."""
    return [hmac.new(_derive(secret, b"recovery-codes"), f"{user_id}|{normalise(code)}".encode(),
                     hashlib.sha256).hexdigest() for secret in reading_keys(settings)]


def _new_recovery_codes(session: Session, settings: Settings, user_id: str) -> list[str]:
    """Ten fresh codes replace the user's previous ones; returned in clear, once."""
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user_id, code_hash=_code_hashes(settings, user_id, raw)[0]))
    return codes


# ------------------------------------------------------------------------------- what applies
def required_for(settings: Settings, user: User) -> bool:
    """Whether the policy requires a second factor of this user's role."""
    return user.role in sessions.accounts_policy(settings).second_factor_roles


def _factor(session: Session, user_id: str) -> SecondFactor | None:
    return session.get(SecondFactor, user_id)


def _confirmed(session: Session, user_id: str) -> SecondFactor | None:
    factor = _factor(session, user_id)
    return factor if factor is not None and factor.confirmed_at is not None else None


def confirmed_in(session: Session, user_id: str) -> bool:
    """Whether the user has a confirmed second factor (read in the caller's transaction)."""
    return _confirmed(session, user_id) is not None


def status_of(settings: Settings, user: User) -> dict[str, Any]:
    """What "Sécurité du compte" shows: whether the factor is on (since when), the recovery codes left,
    whether the policy requires it (then it cannot be turned off)."""
    with db_scope(settings) as session:
        factor = _confirmed(session, user.id)
        left = session.exec(select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).one() if factor else 0
        required = required_for(settings, user)
        return {"enabled": factor is not None, "since": aware(factor.confirmed_at) if factor else None,
                "recovery_left": left, "required": required, "can_disable": factor is not None and not required}


# ------------------------------------------------------------------------------- checking a code
def _totp(settings: Settings, factor: SecondFactor) -> pyotp.TOTP:
    return pyotp.TOTP(decrypt_secret(settings, factor.user_id, factor.secret_encrypted), digits=DIGITS,
                      interval=STEP_SECONDS)


def _accept_totp(session: Session, settings: Settings, factor: SecondFactor, code: str) -> bool:
    """A code of the current step (or one either side) later than the last one accepted; recorded."""
    if not (len(code) == DIGITS and code.isdigit()):
        return False
    totp = _totp(settings, factor)
    now = int(time.time()) // STEP_SECONDS
    steps = [step for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1)
             if hmac.compare_digest(totp.at(step * STEP_SECONDS), code)]
    if not steps:
        return False
    step = steps[-1]
    won = session.exec(update(SecondFactor).where(
        SecondFactor.user_id == factor.user_id,
        or_(SecondFactor.last_step.is_(None), SecondFactor.last_step < step)).values(last_step=step)).rowcount
    session.expire(factor)
    return won == 1  # 0: this step's code (or a later one) was already used: a replay


def _accept_recovery(session: Session, settings: Settings, user_id: str, code: str) -> bool:
    if len(code) != RECOVERY_LENGTH:
        return False
    used = session.exec(update(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.code_hash.in_(_code_hashes(settings, user_id, code)),
        RecoveryCode.used_at.is_(None)).values(used_at=_now())).rowcount
    return used == 1


def check_code(session: Session, settings: Settings, factor: SecondFactor, code: str | None) -> str | None:
    """"totp" or "recovery" when `code` is accepted (and now used), None otherwise."""
    code = normalise(code)
    if _accept_totp(session, settings, factor, code):
        return "totp"
    if factor.confirmed_at is not None and _accept_recovery(session, settings, factor.user_id, code):
        return "recovery"
    return None


def _attempt(session: Session, user: User, address: str, via: str, outcome: str) -> None:
    session.add(SignInAttempt(email=user.email.lower(), user_id=user.id, address=address, via=via, outcome=outcome))


def _throttled(session: Session, settings: Settings, user: User, address: str, via: str) -> Refusal | None:
    wait = sessions.retry_after(session, sessions.accounts_policy(settings), user.email.lower(), address)
    if wait is None:
        return None
    _attempt(session, user, address, via, "throttled")
    return sessions.too_many_attempts(wait)


def _wrong(field: str = "code", message: str = WRONG_CODE) -> Refusal:
    return Refusal(422, message, errors=[{"field": field, "message": message}])


# ------------------------------------------------------------------------------- after the password
@dataclass(frozen=True)
class SecondStep:
    """The password was right; the session waits for the second factor (`kind` "second_factor") or for
    the enrolment the policy requires (`kind` "enrol"). `token` is the pending token, not a session."""

    user: User
    token: str
    kind: str


def after_password(session: Session, settings: Settings, user: User, *, otp: str | None, via: str,
                   address: str) -> SecondStep | Refusal | None:
    """Called by sessions.sign_in once the password is right, in its transaction: None when the
    session may open now; for the pages, the second step to take; for the API, a refusal unless `otp`
    is accepted. Records the attempt unless the session opens (sign_in records the success)."""
    factor = _confirmed(session, user.id)
    if factor is None and not required_for(settings, user):
        return None
    if via != "web":
        if factor is None:
            _attempt(session, user, address, via, "second_step")
            return Refusal(403, API_ENROL_FIRST, second_factor="enrol")
        if not normalise(otp):
            _attempt(session, user, address, via, "second_step")
            return Refusal(401, API_CODE_NEEDED, errors=[{"field": "otp", "message": MISSING_CODE}],
                           headers={"WWW-Authenticate": "Bearer"}, second_factor="required")
        if check_code(session, settings, factor, otp) is None:
            _attempt(session, user, address, via, "failure")
            return Refusal(401, API_WRONG_CODE, errors=[{"field": "otp", "message": WRONG_CODE}],
                           headers={"WWW-Authenticate": "Bearer"}, second_factor="required")
        return None
    _attempt(session, user, address, via, "second_step")
    kind = PENDING_CODE if factor is not None else PENDING_ENROL
    return SecondStep(user, _open_pending(session, user, kind), kind)


def _open_pending(session: Session, user: User, kind: str) -> str:
    now = _now()
    session.exec(delete(AccessToken).where(AccessToken.user_id == user.id, AccessToken.kind.in_(PENDING_FOR),
                                           AccessToken.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(AccessToken(token_hash=sessions.token_hash(token), user_id=user.id, kind=kind, created_at=now,
                            expires_at=now + PENDING_FOR[kind], last_used_at=now))
    return token


def _pending(session: Session, token: str | None, kind: str) -> tuple[AccessToken, User] | None:
    if not token:
        return None
    row = session.get(AccessToken, sessions.token_hash(token))
    if row is None or row.kind != kind or aware(row.expires_at) <= _now():
        return None
    user = session.get(User, row.user_id)
    return (row, user) if user is not None and user.active else None


def pending_user(settings: Settings, token: str | None, kind: str) -> User | None:
    """The user a live pending token of this kind belongs to, or None."""
    with db_scope(settings) as session:
        found = _pending(session, token, kind)
        return found[1] if found else None


@dataclass(frozen=True)
class Completed:
    signed_in: sessions.SignedIn
    used: str  # "totp", "recovery" or "enrolled"
    recovery_codes: list[str]  # after an enrolment only: shown once


def complete_sign_in(settings: Settings, token: str | None, code: str | None, *, address: str) -> Completed:
    """The second step of the pages' sign-in: the code (or a recovery code) opens the web session and
    ends the pending token. A wrong code is a failure of the throttle."""
    with db_scope(settings) as session:
        found = _pending(session, token, PENDING_CODE)
        if found is None:
            raise Refusal(401, PENDING_EXPIRED, expired=True)
        row, user = found
        factor = _confirmed(session, user.id)
        refusal = _throttled(session, settings, user, address, "web")
        if refusal is None and factor is None:  # reset by an administrator meanwhile
            session.delete(row)
            refusal = Refusal(401, PENDING_EXPIRED, expired=True)
        if refusal is None:
            used = check_code(session, settings, factor, code)
            if used is None:
                _attempt(session, user, address, "web", "failure")
                refusal = _wrong(message=WRONG_CODE if normalise(code) else MISSING_CODE)
            else:
                _attempt(session, user, address, "web", "success")
                session.delete(row)
                return Completed(sessions.SignedIn(user, sessions.issue_token(session, user, "web", settings)), used, [])
    raise refusal  # after the commit: the attempt is recorded


# ------------------------------------------------------------------------------- enrolment
def _qr_svg(uri: str) -> str:
    """The otpauth:// address as an inline SVG (no script, no style attribute: the pages' CSP)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff",
                                               title="Code QR à scanner avec votre application d'authentification")
    return svg.replace("<svg ", '<svg role="img" aria-label="Code QR de la double authentification" ', 1)


def _enrolment(settings: Settings, session: Session, user: User) -> dict[str, Any]:
    factor = _factor(session, user.id)
    if factor is not None and factor.confirmed_at is not None:
        raise Refusal(409, ALREADY_ENABLED)
    if factor is None:  # an enrolment under way keeps its secret: a code scanned earlier still works
        factor = SecondFactor(user_id=user.id, secret_encrypted=encrypt_secret(settings, user.id, pyotp.random_base32()))
        session.add(factor)
    secret = decrypt_secret(settings, user.id, factor.secret_encrypted)
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return {"secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), "uri": uri, "qr_svg": _qr_svg(uri),
            "issuer": ISSUER, "account": user.email}


def start_enrolment(settings: Settings, user: User) -> dict[str, Any]:
    """The secret to scan (QR code) or type, for a user without a confirmed factor (409 otherwise)."""
    with db_scope(settings) as session:
        return _enrolment(settings, session, user)


def _confirm(session: Session, settings: Settings, user: User, code: str | None, address: str,
             via: str) -> list[str] | Refusal:
    factor = _factor(session, user.id)
    if factor is not None and factor.confirmed_at is not None:
        return Refusal(409, ALREADY_ENABLED)
    if factor is None:
        return _wrong(message="Affichez d'abord le code QR, puis saisissez le code de votre application.")
    refusal = _throttled(session, settings, user, address, via)
    if refusal is not None:
        return refusal
    if check_code(session, settings, factor, code) != "totp":
        _attempt(session, user, address, via, "failure")
        return _wrong(message=WRONG_CODE if normalise(code) else MISSING_CODE)
    factor.confirmed_at = _now()
    session.add(factor)
    audit_account(session, "second_factor_enabled", actor_id=user.id, platform_id=user.platform_id, user_id=user.id)
    return _new_recovery_codes(session, settings, user.id)


def confirm_enrolment(settings: Settings, user: User, code: str | None, *, address: str) -> list[str]:
    """The first code confirms the factor (from then on sign-in asks for it); returns the ten
    recovery codes, in clear this once."""
    with db_scope(settings) as session:
        outcome = _confirm(session, settings, user, code, address, "web")
        if isinstance(outcome, list):
            return outcome
    raise outcome


def enrolment_for_pending(settings: Settings, token: str | None) -> tuple[User, dict[str, Any]] | None:
    """The enrolment a pending "enrol" token leads to (the policy requires a factor of its user)."""
    with db_scope(settings) as session:
        found = _pending(session, token, PENDING_ENROL)
        if found is None:
            return None
        user = found[1]
        if _confirmed(session, user.id) is not None:
            return None
        return user, _enrolment(settings, session, user)


def complete_enrolment(settings: Settings, token: str | None, code: str | None, *, address: str) -> Completed:
    """The required enrolment at sign-in: the first code confirms the factor and opens the session."""
    with db_scope(settings) as session:
        found = _pending(session, token, PENDING_ENROL)
        if found is None:
            raise Refusal(401, PENDING_EXPIRED, expired=True)
        row, user = found
        outcome = _confirm(session, settings, user, code, address, "web")
        if isinstance(outcome, list):
            _attempt(session, user, address, "web", "success")
            session.delete(row)
            return Completed(sessions.SignedIn(user, sessions.issue_token(session, user, "web", settings)),
                             "enrolled", outcome)
    raise outcome


# ------------------------------------------------------------------------------- the user's own changes
def _own_factor_checked(session: Session, settings: Settings, user: User, code: str | None,
                        address: str) -> SecondFactor | Refusal:
    factor = _confirmed(session, user.id)
    if factor is None:
        return Refusal(409, NOT_ENABLED)
    refusal = _throttled(session, settings, user, address, "web")
    if refusal is not None:
        return refusal
    if check_code(session, settings, factor, code) is None:
        _attempt(session, user, address, "web", "failure")
        return _wrong(message=WRONG_CODE if normalise(code) else MISSING_CODE)
    return factor


def regenerate_recovery_codes(settings: Settings, user: User, code: str | None, *, address: str) -> list[str]:
    """Ten new recovery codes replace the old ones, against a current code (a session alone is not
    enough to take the second factor away)."""
    with db_scope(settings) as session:
        outcome = _own_factor_checked(session, settings, user, code, address)
        if not isinstance(outcome, Refusal):
            audit_account(session, "recovery_codes_renewed", actor_id=user.id, platform_id=user.platform_id,
                          user_id=user.id)
            return _new_recovery_codes(session, settings, user.id)
    raise outcome


def disable(settings: Settings, user: User, code: str | None, *, address: str) -> None:
    """Turn the second factor off, against a current code; refused when the policy requires it."""
    if required_for(settings, user):
        raise Refusal(409, REQUIRED)
    with db_scope(settings) as session:
        outcome = _own_factor_checked(session, settings, user, code, address)
        if not isinstance(outcome, Refusal):
            _remove(session, user.id)
            audit_account(session, "second_factor_disabled", actor_id=user.id, platform_id=user.platform_id,
                          user_id=user.id)
            return
    raise outcome


def _remove(session: Session, user_id: str) -> None:
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.exec(delete(SecondFactor).where(SecondFactor.user_id == user_id))
    session.exec(delete(AccessToken).where(AccessToken.user_id == user_id, AccessToken.kind.in_(PENDING_FOR)))


# ------------------------------------------------------------------------------- an administrator's reset
def enabled_for(settings: Settings, admin: User, user_id: str) -> bool:
    """Whether an account of the administrator's platform has a confirmed second factor."""
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        return _confirmed(session, user_id) is not None


def reset(settings: Settings, admin: User, user_id: str) -> dict[str, Any]:
    """An administrator removes the second factor of an account of their platform (a lost phone):
    its secret and recovery codes go, and every session and API token of the account ends. At the
    next sign-in the password suffices, or (when the policy requires a factor) enrolment comes first."""
    roles.check(admin, roles.ADMINS)
    with db_scope(settings) as session:
        user = session.get(User, user_id)
        if user is None or user.platform_id != admin.platform_id:
            raise Refusal(404, UNKNOWN_ACCOUNT)
        if user.id == admin.id:
            raise Refusal(409, OWN_RESET)
        if _factor(session, user.id) is None:
            raise Refusal(409, "Ce compte n'a pas de double authentification.")
        _remove(session, user.id)
        ended = sessions.revoke_all(session, user.id)
        audit_account(session, "second_factor_reset", actor_id=admin.id, platform_id=user.platform_id,
                      user_id=user.id, sessions_ended=ended)
        return {"id": user.id, "sessions_ended": ended}
