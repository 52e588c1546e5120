"""/administration: the administrators' workspace. The accounts of the platform (create, change role
and FTE, disable and re-enable, send a link to choose a password), the platform's details, and the
policy in force in French words. Administrators only: anyone else gets the French 404 page. Every
action calls the same service as the API (services/users.py, password_links.py, platform_details.py,
policy_words.py), and is in the audit trail."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from eaflow.accounts import ROLES
from eaflow.services import operators, password_links, platform_details, policy_words, roles, second_factor, users
from eaflow.services.refusals import Refusal
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import CSRF_FIELD, Visitor, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]
HOME = "/administration"

ROLE_CHOICES = {"counsellor": "Conseiller ou conseillère en emploi accompagné", "manager": "Responsable de la plateforme",
                "admin": "Administrateur ou administratrice", "prescriber": "Prescripteur ou prescriptrice"}
assert set(ROLE_CHOICES) == set(ROLES)
DONE = {
    "cree": "Le compte est créé. Un lien pour choisir son mot de passe vient de lui être envoyé par courriel.",
    "modifie": "Les changements du compte sont enregistrés.",
    "sessions": "Toutes les sessions et tous les jetons d'accès du compte ont pris fin : la personne devra se reconnecter.",
    "double-authentification": "La double authentification du compte est réinitialisée et ses sessions ont pris fin : à "
                               "sa prochaine connexion, la personne l'activera de nouveau si son rôle l'exige.",
    "operateur": "L'opérateur est ajouté : vous pouvez maintenant lui rattacher des conseillers et des responsables.",
    "desactive": "Le compte est désactivé : toutes ses sessions et ses jetons d'accès ont pris fin.",
    "reactive": "Le compte est réactivé. La personne se connecte avec son mot de passe, ou avec un nouveau lien.",
    "lien": "Un lien de réinitialisation vient d'être envoyé par courriel. Le mot de passe actuel reste valable tant "
            "que le lien n'a pas servi.",
    "plateforme": "Les informations de la plateforme sont enregistrées.",
}
NOT_SENT = {
    "cree-sans-courriel": "Le compte est créé, mais le courriel n'a pas pu partir (serveur de messagerie "
                          "injoignable) : envoyez-lui un lien de réinitialisation dans un instant.",
    "lien-non-envoye": "Le courriel n'a pas pu partir (serveur de messagerie injoignable) : rien n'a été envoyé, "
                       "réessayez dans un instant.",
}


def _admin(visitor: Visitor):
    if visitor.user.role not in roles.ADMINS:
        raise Refusal(404, "Cette page n'existe pas.")
    return visitor.user


def _by_field(errors: list[dict[str, str]]) -> dict[str, list[str]]:
    placed: dict[str, list[str]] = {}
    for error in errors:
        placed.setdefault(error.get("field") or "", []).append(error["message"])
    return placed


def _errors_of(refusal: Refusal) -> list[dict[str, str]]:
    return refusal.errors or [{"field": "", "message": refusal.detail}]


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(form.get(key) or "") for key in form.keys() if key != CSRF_FIELD}


def _banner(fait: str | None) -> dict[str, str] | None:
    if fait in DONE:
        return {"kind": "success", "text": DONE[fait]}
    if fait in NOT_SENT:
        return {"kind": "warning", "text": NOT_SENT[fait]}
    return None


def _fte_text(fte: float) -> str:
    return f"{fte:g}".replace(".", ",") if fte else ""


# --------------------------------------------------------------------------------- the overview
@router.get(HOME)
def overview(request: Request, visitor: VisitorDep, fait: str | None = None):
    admin = _admin(visitor)
    settings = request.app.state.settings
    return render_page(request, "admin.html.j2", users=users.list_users(settings, admin),
                       platform=platform_details.platform_of(settings, admin), role_choices=ROLE_CHOICES,
                       banner=_banner(fait), fte_text=_fte_text)


# --------------------------------------------------------------------------------- one account
def _operator_choices(request: Request, admin) -> dict[str, str]:
    """The platform's operators as a select offers them (the chef de file first); one only: no choice."""
    found = operators.list_operators(request.app.state.settings, admin)
    return {o["id"]: o["name"] + (" (chef de file)" if o["is_lead"] else "") for o in found} if len(found) > 1 else {}


def _new_page(request: Request, admin, values: dict[str, str], errors: list[dict[str, str]] | None = None,
              status: int = 200):
    return render_page(request, "admin_user_new.html.j2", status=status, values=values, errors=errors or [],
                       placed=_by_field(errors or []), role_choices=ROLE_CHOICES,
                       operator_choices=_operator_choices(request, admin))


@router.get(HOME + "/comptes/nouveau")
def new_user_page(request: Request, visitor: VisitorDep):
    return _new_page(request, _admin(visitor), {"name": "", "email": "", "role": "counsellor", "fte": "",
                                                "operator": ""})


@router.post(HOME + "/comptes")
async def create_user(request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    values = {key: "" for key in ("name", "email", "role", "fte", "operator")} | await _form(request)
    try:
        created = await users.create_user(request.app.state.settings, admin, email=values["email"],
                                          name=values["name"], role=values["role"], fte=values["fte"] or None,
                                          operator=values["operator"] or None)
    except Refusal as refusal:
        if refusal.status not in (409, 422):
            raise
        return _new_page(request, admin, values, _errors_of(refusal), status=refusal.status)
    done = "cree" if created["password_link_sent"] else "cree-sans-courriel"
    return RedirectResponse(f"{HOME}/comptes/{created['id']}?fait={done}", status_code=303)


def _user_page(request: Request, admin, user_id: str, *, values: dict[str, str] | None = None,
               errors: list[dict[str, str]] | None = None, status: int = 200, fait: str | None = None):
    account = users.get_user(request.app.state.settings, admin, user_id)
    values = values or {"role": account["role"], "fte": _fte_text(account["fte"]), "operator": account["operator"] or ""}
    return render_page(request, "admin_user.html.j2", status=status, account=account, values=values,
                       errors=errors or [], placed=_by_field(errors or []), role_choices=ROLE_CHOICES,
                       operator_choices=_operator_choices(request, admin),
                       banner=_banner(fait), itself=account["id"] == admin.id, fte_text=_fte_text,
                       second_factor_on=second_factor.enabled_for(request.app.state.settings, admin, account["id"]))


@router.get(HOME + "/comptes/{user_id}")
def user_page(user_id: str, request: Request, visitor: VisitorDep, fait: str | None = None):
    return _user_page(request, _admin(visitor), user_id, fait=fait)


@router.post(HOME + "/comptes/{user_id}")
async def change_user(user_id: str, request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    values = {"role": "", "fte": "", "operator": ""} | await _form(request)
    try:
        users.change_user(request.app.state.settings, admin, user_id, role=values["role"], fte=values["fte"],
                          operator=values["operator"] or None)
    except Refusal as refusal:
        if refusal.status not in (409, 422):
            raise
        return _user_page(request, admin, user_id, values=values, errors=_errors_of(refusal), status=refusal.status)
    return RedirectResponse(f"{HOME}/comptes/{user_id}?fait=modifie", status_code=303)


async def _set_active(request: Request, visitor: Visitor, user_id: str, active: bool):
    admin = _admin(visitor)
    try:
        users.change_user(request.app.state.settings, admin, user_id, active=active)
    except Refusal as refusal:
        if refusal.status != 409:
            raise
        return _user_page(request, admin, user_id, errors=_errors_of(refusal), status=409)
    return RedirectResponse(f"{HOME}/comptes/{user_id}?fait={'reactive' if active else 'desactive'}", status_code=303)


@router.post(HOME + "/comptes/{user_id}/sessions")
async def end_sessions(user_id: str, request: Request, visitor: VisitorDep):
    users.end_sessions(request.app.state.settings, _admin(visitor), user_id)
    return RedirectResponse(f"{HOME}/comptes/{user_id}?fait=sessions", status_code=303)


@router.post(HOME + "/comptes/{user_id}/double-authentification")
async def reset_second_factor(user_id: str, request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    try:
        second_factor.reset(request.app.state.settings, admin, user_id)
    except Refusal as refusal:
        if refusal.status != 409:
            raise
        return _user_page(request, admin, user_id, errors=_errors_of(refusal), status=409)
    return RedirectResponse(f"{HOME}/comptes/{user_id}?fait=double-authentification", status_code=303)


@router.post(HOME + "/comptes/{user_id}/desactiver")
async def disable_user(user_id: str, request: Request, visitor: VisitorDep):
    return await _set_active(request, visitor, user_id, False)


@router.post(HOME + "/comptes/{user_id}/reactiver")
async def enable_user(user_id: str, request: Request, visitor: VisitorDep):
    return await _set_active(request, visitor, user_id, True)


@router.post(HOME + "/comptes/{user_id}/lien")
async def send_password_link(user_id: str, request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    try:
        sent = await password_links.send_new_link(request.app.state.settings, admin, user_id)
    except Refusal as refusal:
        if refusal.status != 409:
            raise
        return _user_page(request, admin, user_id, errors=_errors_of(refusal), status=409)
    return RedirectResponse(f"{HOME}/comptes/{user_id}?fait={'lien' if sent else 'lien-non-envoye'}", status_code=303)


# --------------------------------------------------------------------------------- the platform
def _platform_page(request: Request, admin, values: dict[str, Any] | None = None,
                   errors: list[dict[str, str]] | None = None, status: int = 200,
                   operator_values: dict[str, str] | None = None, operator_errors: list[dict[str, str]] | None = None,
                   banner: dict[str, str] | None = None):
    platform = platform_details.platform_of(request.app.state.settings, admin)
    return render_page(request, "admin_platform.html.j2", status=status, platform=platform,
                       values=values or platform, errors=errors or [], placed=_by_field(errors or []),
                       operators=operators.list_operators(request.app.state.settings, admin),
                       operator_values=operator_values or {"operator_name": ""}, operator_errors=operator_errors or [],
                       operator_placed=_by_field(operator_errors or []), banner=banner)


@router.get(HOME + "/plateforme")
def platform_page(request: Request, visitor: VisitorDep, fait: str | None = None):
    return _platform_page(request, _admin(visitor), banner=_banner(fait))


@router.post(HOME + "/plateforme")
async def change_platform(request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    values = {"name": "", "operator": "", "mailbox": ""} | await _form(request)
    try:
        platform_details.change_platform(request.app.state.settings, admin, name=values["name"],
                                         operator=values["operator"], mailbox=values["mailbox"])
    except Refusal as refusal:
        if refusal.status != 422:
            raise
        return _platform_page(request, admin, values, _errors_of(refusal), status=422)
    return RedirectResponse(f"{HOME}?fait=plateforme", status_code=303)


@router.post(HOME + "/operateurs")
async def add_operator(request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    values = {"operator_name": ""} | await _form(request)
    try:
        operators.add_operator(request.app.state.settings, admin, values["operator_name"])
    except Refusal as refusal:
        if refusal.status != 422:
            raise
        errors = [{**error, "field": "operator_name"} for error in _errors_of(refusal)]  # beside this page's field
        return _platform_page(request, admin, operator_values=values, operator_errors=errors, status=422)
    return RedirectResponse(f"{HOME}/plateforme?fait=operateur#operateurs", status_code=303)


# --------------------------------------------------------------------------------- the policy
@router.get(HOME + "/politique")
def policy_page(request: Request, visitor: VisitorDep):
    admin = _admin(visitor)
    return render_page(request, "admin_policy.html.j2", **policy_words.policy_page(request.app.state.settings, admin))
