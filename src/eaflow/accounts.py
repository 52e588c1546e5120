"""Platforms and user accounts: creation rules and argon2 password hashing.

Used by the CLI (`eaflow platform add`, `eaflow user add`), the demo seeding and the API's login.
Every refusal is a `ValueError` whose message can be shown as is to an administrator.
"""
from __future__ import annotations

import re
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, select

from eaflow.store.accounts import record_staffing
from eaflow.store.models import Operator, Platform, User

ROLES = ("counsellor", "manager", "admin", "prescriber")

# Departments of France: 01–95 (20 was split into 2A and 2B), and the overseas ones 971–976.
_DEPARTMENT = re.compile(r"^(0[1-9]|1\d|[3-8]\d|9[0-5]|2[1-9]|2[AB]|97[1-6])$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# argon2id with the library's defaults (RFC 9106 "low memory" profile).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("the password is empty")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches `password_hash`; False on a mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def normalize_department(code: str) -> str:
    code = (code or "").strip().upper()
    if len(code) == 1 and code.isdigit():
        code = "0" + code
    if not _DEPARTMENT.match(code):
        raise ValueError(f"not a French département code: {code!r} (expected e.g. 35, 2A, 974)")
    return code


def platform_id_for(department: str) -> str:
    return "pf-" + normalize_department(department).lower()


def create_platform(session: Session, department: str, name: str, operator: str = "", mailbox: str = "") -> Platform:
    """The platform of one département (one per département: a duplicate is refused)."""
    code = normalize_department(department)
    if not name or not name.strip():
        raise ValueError("a platform needs a name")
    if mailbox and not _EMAIL.match(mailbox.strip()):
        raise ValueError(f"not an email address: {mailbox!r}")
    existing = session.exec(select(Platform).where(Platform.department == code)).first()
    if existing is not None:
        raise ValueError(f"a platform already exists for département {code}: {existing.id} ({existing.name})")
    platform = Platform(
        id=platform_id_for(code),
        department=code,
        name=name.strip(),
        operator=operator.strip(),
        mailbox=mailbox.strip().lower(),
    )
    session.add(platform)
    session.flush()
    session.add(Operator(id=lead_operator_id(platform.id), platform_id=platform.id,
                         name=platform.operator or platform.name, is_lead=True))
    session.flush()
    return platform


def lead_operator_id(platform_id: str) -> str:
    """The id of a platform's first operator, its chef de file (as migration 0011 names it)."""
    return "op-" + platform_id.removeprefix("pf-")


OPERATOR_ROLES = ("counsellor", "manager")  # the staff who work for one operator


def find_operator(session: Session, platform_id: str, ref: str | None) -> Operator:
    """An operator of the platform by id or name; the chef de file when `ref` is empty."""
    operators = session.exec(select(Operator).where(Operator.platform_id == platform_id)).all()
    ref = (ref or "").strip()
    for operator in operators:
        if (not ref and operator.is_lead) or ref in (operator.id, operator.name):
            return operator
    names = ", ".join(f"{o.id} ({o.name})" for o in operators) or "none"
    raise ValueError(f"unknown operator {ref!r} on platform {platform_id}: expected one of {names}")


def find_platform(session: Session, ref: str) -> Platform:
    """A platform by département code ("35") or id ("pf-35")."""
    ref = (ref or "").strip()
    platform = session.get(Platform, ref) if ref.startswith("pf-") else None
    if platform is None:
        try:
            code = normalize_department(ref.removeprefix("pf-"))
        except ValueError:
            raise ValueError(f"unknown platform: {ref!r}") from None
        platform = session.exec(select(Platform).where(Platform.department == code)).first()
    if platform is None:
        raise ValueError(f"no platform for département {ref!r}: create it with `eaflow platform add`")
    return platform


def default_platform(session: Session, department: str | None = None) -> Platform:
    """The platform named by `department`, or else the only one there is."""
    if department:
        return find_platform(session, department)
    platforms = session.exec(select(Platform).order_by(Platform.department)).all()
    if not platforms:
        raise ValueError("no platform yet: create one first with `eaflow platform add --department CODE --name NAME`")
    if len(platforms) > 1:
        codes = ", ".join(p.department for p in platforms)
        raise ValueError(f"several platforms exist ({codes}): say which one with --platform CODE")
    return platforms[0]


def check_email(email: str) -> str:
    """The address, trimmed and in lower case; a ValueError when it is not one."""
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"not an email address: {email!r}")
    return email


def check_role_and_fte(role: str, fte: float | str | None) -> float:
    """The full-time equivalent of an account of `role`, checked: a ValueError for an unknown role, or
    an fte out of bounds (counsellors need 0 < fte <= 1: it sets their capacity, R7)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    try:
        fte = float(fte or 0.0)
    except (TypeError, ValueError):
        raise ValueError(f"fte must be a number, got {fte!r}") from None
    if role == "counsellor" and not 0 < fte <= 1:
        raise ValueError("a counsellor needs a full-time equivalent with 0 < fte <= 1 (e.g. --fte 0.8)")
    if not 0 <= fte <= 1:
        raise ValueError(f"fte must be between 0 and 1, got {fte}")
    return fte


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_user(
    session: Session,
    email: str,
    role: str,
    password: str,
    platform_id: str | None = None,
    fte: float = 0.0,
    display_name: str = "",
    operator: str | None = None,
) -> User:
    """A staff or prescriber account of a platform (the only platform when none is given).

    Counsellors need their full-time equivalent (0 < fte <= 1): it sets their capacity (R7).
    Counsellors and managers work for one operator: `operator` (id or name), else the chef de file.
    """
    email = check_email(email)
    fte = check_role_and_fte(role, fte)
    if not password:
        raise ValueError("the password is empty")
    if find_user_by_email(session, email) is not None:
        raise ValueError(f"a user with email {email} already exists")
    platform = find_platform(session, platform_id) if platform_id else default_platform(session)
    user = User(
        id="u-" + uuid.uuid4().hex[:12],
        email=email,
        display_name=(display_name or "").strip(),
        role=role,
        platform_id=platform.id,
        fte=fte,
        operator_id=find_operator(session, platform.id, operator).id if role in OPERATOR_ROLES else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record_staffing(session, user)
    return user
