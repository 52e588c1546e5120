"""The platform's accounts (administrators) and everyone's mail preferences: thin routes over
services/users.py, services/password_links.py and services/preferences.py, the same as the pages'."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends
from pydantic import ConfigDict, Field

from eaflow.api.deps import SettingsDep, require
from eaflow.api.problems import Problem
from eaflow.services import operators, password_links, preferences, roles, users
from eaflow.store.models import User
from eaflow.workflows.plausibility import CheckedText

router = APIRouter(tags=["users"])
AdminDep = Annotated[User, Depends(require(*roles.ADMINS))]
StaffDep = Annotated[User, Depends(require(*roles.STAFF))]
MAIL_NOT_SENT = "Le courriel n'a pas pu partir (serveur de messagerie injoignable) : réessayez dans un instant."


class UserIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, description="the address, also the sign-in name")
    name: str = Field(max_length=200, description="first and last name")
    role: str = Field(description="counsellor | manager | admin | prescriber")
    fte: Optional[float] = Field(None, description="full-time equivalent, 0 < fte <= 1 for a counsellor (R7)")
    operator: Optional[str] = Field(None, max_length=64, description="counsellors and managers: the operator "
                                                                     "(id) they work for; default the chef de file")


class UserChange(CheckedText):
    model_config = ConfigDict(extra="forbid")

    role: Optional[str] = None
    fte: Optional[float] = None
    active: Optional[bool] = Field(None, description="false ends every session and token of the user at once")
    operator: Optional[str] = Field(None, max_length=64, description="the operator (id) a counsellor or manager "
                                                                     "works for; their persons follow them")


class PreferencesIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    muted_kinds: list[str] = Field(default_factory=list, description="the mail kinds not to receive")
    digest_instead: bool = Field(False, description="counsellors: read tasks in the weekly digest instead of "
                                                    "one mail per task")


@router.get("/api/v1/users", summary="The accounts of the administrator's platform")
def list_users(settings: SettingsDep, admin: AdminDep):
    return {"items": users.list_users(settings, admin), "next_cursor": None}


@router.post("/api/v1/users", status_code=201,
             summary="Create an account; a one-use link to choose its password is mailed (password_link_sent)")
async def create_user(body: UserIn, settings: SettingsDep, admin: AdminDep):
    return await users.create_user(settings, admin, email=body.email, name=body.name, role=body.role, fte=body.fte,
                                    operator=body.operator)


@router.get("/api/v1/users/{user_id}", summary="One account of the platform")
def get_user(user_id: str, settings: SettingsDep, admin: AdminDep):
    return users.get_user(settings, admin, user_id)


@router.patch("/api/v1/users/{user_id}", summary="Change role, FTE, or disable / re-enable an account")
def change_user(user_id: str, body: UserChange, settings: SettingsDep, admin: AdminDep):
    return users.change_user(settings, admin, user_id, role=body.role, fte=body.fte, active=body.active,
                             operator=body.operator)


@router.post("/api/v1/users/{user_id}/sessions/revoke", summary="End every session and API token of an account now")
def end_sessions(user_id: str, settings: SettingsDep, admin: AdminDep):
    return users.end_sessions(settings, admin, user_id)


@router.post("/api/v1/users/{user_id}/password-reset", status_code=202,
             summary="Mail the account a new one-use link to choose its password",
             responses={503: {"description": "the mail could not be sent: try again"}})
async def password_reset(user_id: str, settings: SettingsDep, admin: AdminDep):
    if not await password_links.send_new_link(settings, admin, user_id):
        raise Problem(503, MAIL_NOT_SENT)
    return {"sent": True}


@router.get("/api/v1/me/preferences", tags=["auth"], summary="Which mails I receive (counsellors, managers)")
def my_preferences(settings: SettingsDep, user: StaffDep):
    return preferences.preferences_of(settings, user)


@router.put("/api/v1/me/preferences", tags=["auth"], summary="Choose which mails I receive")
def save_my_preferences(body: PreferencesIn, settings: SettingsDep, user: StaffDep):
    return preferences.save_preferences(settings, user, muted_kinds=body.muted_kinds,
                                        digest_instead=body.digest_instead)


class OperatorIn(CheckedText):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, description="the organisation (co-porteur) joining the platform")


@router.get("/api/v1/operators", summary="The operators (co-porteurs) of the platform, the chef de file first")
def list_operators(settings: SettingsDep, user: Annotated[User, Depends(require(*roles.STAFF, *roles.ADMINS))]):
    return operators.list_operators(settings, user)


@router.post("/api/v1/operators", status_code=201, summary="Add an operator (co-porteur) to the platform",
             responses={422: {"description": "the name is missing, too long or taken"}})
def add_operator(body: OperatorIn, settings: SettingsDep, admin: AdminDep):
    return operators.add_operator(settings, admin, body.name)
