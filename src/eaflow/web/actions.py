"""What a counsellor (or a manager) does on a person's file, one page each: record, correct or delete
a contact, open or close a job, record a rights event, start, extend or end a veille, ask for an
avenant, propose an exit. Each form is drawn from the very model the API validates; each action calls
the same service as the API; a refusal shows beside its field and records nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from eaflow.services import (
    avenants,
    contacts,
    employment,
    exits,
    journeys,
    rights,
    team,
    veille,
)
from eaflow.services.refusals import Refusal
from eaflow.store.models import CLOSED_STATES, User
from eaflow.web import forms
from eaflow.web.rendering import render_page
from eaflow.web.routing import PageRoute
from eaflow.web.session import CSRF_FIELD, Visitor, signed_in
from eaflow.workflows.field_errors import field_errors
from eaflow.workflows.task_kinds import ContactFields

router = APIRouter(route_class=PageRoute, include_in_schema=False)
VisitorDep = Annotated[Visitor, Depends(signed_in)]

LIVE = frozenset({"admitted", "convention", "accompaniment", "veille", "relaunch", "exit_proposed"})
ACCOMPANIED = frozenset({"accompaniment", "veille", "relaunch"})


@dataclass
class Call:
    """What an action's `run` gets: who, on which journey, with which client."""

    request: Request
    user: User
    journey_id: str
    item_id: str | None

    @property
    def settings(self):
        return self.request.app.state.settings

    @property
    def temporal(self):
        return self.request.app.state.temporal

    async def client(self):
        return await self.temporal.client()


@dataclass(frozen=True)
class Action:
    path: str  # under /parcours/{journey_id}/; "{item}" stands for a contact's or an episode's id
    title: str
    intro: str
    model: type[BaseModel]
    submit: str
    done: str  # what the file page says afterwards (?fait=)
    run: Callable[[Call, BaseModel], Awaitable[Any]]
    offered_in: frozenset[str] = LIVE
    hidden: tuple[str, ...] = ()  # fields the address gives, not the form
    required: tuple[str, ...] = ()  # optional for the API (which names the rule that wants them), not here
    fill: Callable[[Call], dict[str, Any]] = lambda call: {}
    current: Callable[[Call], dict[str, Any]] | None = None  # the values to start from
    menu: str | None = None  # the file's menu entry, when the action is offered there
    roles: frozenset[str] = frozenset({"counsellor", "manager"})
    danger: bool = False
    choices: Callable[[Call, dict[str, Any]], dict[str, Any]] | None = None  # the schema with today's options

    def schema(self, call: Call | None = None) -> dict[str, Any]:
        schema = forms.asking_for(self.model.model_json_schema(), self.required, hidden=self.hidden)
        return self.choices(call, schema) if self.choices and call else schema


# ------------------------------------------------------------------------------------ the actions
async def _add_contact(call: Call, body: ContactFields) -> None:
    await contacts.add_contact(call.settings, call.temporal, call.user, call.journey_id, body)


async def _edit_contact(call: Call, body: ContactFields) -> None:
    await contacts.edit_contact(call.settings, call.temporal, call.user, call.journey_id, call.item_id,
                                body.model_dump(mode="json"))


async def _delete_contact(call: Call, body: contacts.ContactDeletion) -> None:
    await contacts.delete_contact(call.settings, call.temporal, call.user, call.journey_id, call.item_id,
                                  body.reason)


def _contact_values(call: Call) -> dict[str, Any]:
    current = contacts.get_contact(call.settings, call.user, call.journey_id, call.item_id)
    return {name: current[name] for name in ContactFields.model_fields}


async def _employment(call: Call, body: BaseModel) -> None:
    await employment.record_employment(call.settings, call.temporal, call.user, call.journey_id, body)


async def _rights(call: Call, body: BaseModel) -> None:
    await rights.record_rights_event(call.settings, await call.client(), call.user, call.journey_id, body)


async def _veille(call: Call, body: veille.VeilleIn) -> None:
    await veille.start_veille(call.settings, await call.client(), call.user, call.journey_id, body)


async def _reactivate(call: Call, body: veille.ReactivateIn) -> None:
    await veille.reactivate(call.settings, await call.client(), call.user, call.journey_id, body)


async def _avenant(call: Call, body: avenants.AvenantIn) -> None:
    await avenants.request_avenant(call.settings, await call.client(), call.user, call.journey_id, body)


async def _change_counsellor(call: Call, body: journeys.CounsellorChangeIn) -> None:
    await journeys.change_counsellor(call.settings, await call.client(), call.user, call.journey_id, body)


def _counsellors(call: Call, schema: dict[str, Any]) -> dict[str, Any]:
    return team.with_counsellor_choices(schema, team.assignable(call.settings, call.user))


def _exit(reason: str):
    async def run(call: Call, body: BaseModel) -> None:
        await exits.propose_exit(call.settings, await call.client(), call.user, call.journey_id,
                                 exits.exit_body(reason, body))
    return run


RIGHTS_EVENTS = {
    "renewal_filed": ("Demande de renouvellement déposée", rights.RenewalFiled),
    "granted": ("Droits renouvelés", rights.Granted),
    "refused": ("Renouvellement refusé", rights.Refused),
    "appeal_filed": ("Recours déposé", rights.AppealFiled),
    "appeal_decided": ("Décision sur le recours", rights.AppealDecided),
}
EXIT_TITLES = {
    "person_request": "Sortie à la demande de la personne",
    "move": "Déménagement",
    "reorientation": "Réorientation choisie par la personne",
    "death": "Décès (clôture administrative)",
}

ACTIONS: dict[str, Action] = {action.path: action for action in (
    Action("contacts/nouveau", "Enregistrer un contact",
           "Un entretien, un échange avec l'employeur, ou une tentative de contact restée sans réponse (R13). "
           "Il compte dans l'intensité du mois (R11).", ContactFields, "Enregistrer le contact", "contact",
           _add_contact, menu="Enregistrer un contact", current=lambda call: {"occurred_on": date.today()}),
    Action("contacts/{item}/modifier", "Corriger un contact", "La correction est tracée avec son auteur.",
           ContactFields, "Enregistrer la correction", "contact-modifie", _edit_contact, current=_contact_values),
    Action("contacts/{item}/supprimer", "Supprimer un contact",
           "Le contact disparaît de la liste et de l'intensité du mois ; il reste conservé et tracé, avec le motif.",
           contacts.ContactDeletion, "Supprimer le contact", "contact-supprime", _delete_contact, danger=True),
    Action("emploi/nouveau", "Enregistrer un emploi",
           "Un nouveau contrat de la personne (R16). Un nouvel employeur demande un avenant à la convention (R10).",
           employment.OpenEpisode, "Enregistrer l'emploi", "emploi", _employment, offered_in=ACCOMPANIED,
           menu="Enregistrer un emploi"),
    Action("emploi/{item}/cloturer", "Enregistrer la fin d'un emploi",
           "La fin d'un contrat ne met pas fin à l'accompagnement, qui continue tant que la personne le souhaite (R16).",
           employment.CloseEpisode, "Enregistrer la fin de l'emploi", "emploi-fin", _employment,
           offered_in=ACCOMPANIED, hidden=("episode_id",), fill=lambda call: {"episode_id": call.item_id}),
    *(Action(f"droits/{event}", title, "Ce que vous savez des droits de la personne : RQTH ou décision de la CDAPH "
             "(R19). Le parcours vérifie l'ordre des étapes et les dates.", model, "Enregistrer", "droits", _rights,
             offered_in=ACCOMPANIED, hidden=("event",), fill=lambda call, event=event: {"event": event},
             menu=f"Droits : {title.lower()}")
      for event, (title, model) in RIGHTS_EVENTS.items()),
    Action("veille", "Mettre en veille ou prolonger la veille",
           "La veille suspend l'accompagnement pour une durée convenue et bornée ; ce n'est pas une sortie. Elle "
           "suppose la demande explicite de la personne, ou son accord formel (R14). La personne et l'employeur en "
           "sont informés par courriel, et un avenant est préparé.", veille.VeilleIn, "Enregistrer la veille",
           "veille", _veille, offered_in=frozenset({"accompaniment", "veille"}), menu="Mettre en veille",
           required=("agreement", "until")),
    Action("reprise", "Reprendre l'accompagnement",
           "Met fin à la veille ou aux relances : l'accompagnement reprend dès maintenant (R14, R17).",
           veille.ReactivateIn, "Reprendre l'accompagnement", "reprise", _reactivate,
           offered_in=frozenset({"veille", "relaunch"}), menu="Reprendre l'accompagnement"),
    Action("avenant", "Demander un avenant",
           "Un changement que la convention doit suivre : nouveau représentant légal, nouvel employeur (R10). "
           "Vous rédigerez l'avenant dans la tâche qui s'ouvre.", avenants.AvenantIn, "Demander l'avenant",
           "avenant", _avenant, offered_in=ACCOMPANIED, menu="Demander un avenant"),
    Action("conseiller", "Changer de conseiller",
           "Chaque personne a un seul conseiller (R8). Le changement (absence, départ, réorganisation) est tracé avec "
           "son motif (R21) ; les tâches ouvertes de la personne suivent le nouveau conseiller, dans la limite de sa "
           "capacité (R7).", journeys.CounsellorChangeIn, "Changer de conseiller", "conseiller", _change_counsellor,
           roles=frozenset({"manager"}), menu="Changer de conseiller", choices=_counsellors),
    *(Action(f"sortie/{reason}", f"Proposer une sortie : {EXIT_TITLES[reason].lower()}",
             "La plateforme ne décide jamais seule d'une sortie : un responsable décidera au vu de votre analyse "
             "(R15, R18). L'état de santé n'est jamais un motif de sortie : proposez plutôt une veille.",
             model, "Proposer la sortie", "sortie", _exit(reason),
             offered_in=frozenset({"waiting_list", *LIVE}) - {"exit_proposed"} if reason == "death"
             else frozenset({"admitted", "convention", *ACCOMPANIED}),
             roles=frozenset({"manager"}) if reason == "death" else frozenset({"counsellor", "manager"}),
             menu=f"Sortie : {EXIT_TITLES[reason].lower()}", danger=True)
      for reason, model in exits.EXIT_FORMS.items()),
)}


def offered_actions(journey: dict[str, Any], user: User) -> list[dict[str, str]]:
    """The actions of the file's menu that this journey's state and this user's role allow."""
    return [{"href": f"/parcours/{journey['id']}/{action.path}", "label": action.menu,
             "group": action.path.split("/")[0]}
            for action in ACTIONS.values()
            if action.menu and journey["state"] in action.offered_in and user.role in action.roles]


# ------------------------------------------------------------------------------------ the pages
def _action(path: str, user: User, journey: dict[str, Any]) -> Action:
    action = ACTIONS.get(path)
    if action is None or user.role not in action.roles:
        raise Refusal(404, "Cette page n'existe pas.")
    if journey["state"] in CLOSED_STATES or journey["state"] not in action.offered_in:
        raise Refusal(409, f"Cette action n'est pas possible à cette étape du parcours ({journey['state_label'].lower()}).")
    return action


def _page(request: Request, call: Call, action: Action, journey: dict, *, values: dict,
          errors: list[dict] | None = None, status: int = 200, rows: dict[str, int] | None = None):
    schema = action.schema(call)
    return render_page(request, "action.html.j2", status=status, action=action, journey=journey, schema=schema,
                       values=values, errors=errors or [], rows=rows or {},
                       unplaced=forms.unplaced_errors(schema, errors or [], error_prefix=""))


async def _show(request: Request, visitor: Visitor, journey_id: str, path: str, item_id: str | None):
    call = Call(request, visitor.user, journey_id, item_id)
    journey = journeys.read_journey(call.settings, call.user, journey_id)
    action = _action(path, call.user, journey)
    values = action.current(call) if action.current else {}
    return _page(request, call, action, journey, values=values)


async def _submit(request: Request, visitor: Visitor, journey_id: str, path: str, item_id: str | None):
    call = Call(request, visitor.user, journey_id, item_id)
    journey = journeys.read_journey(call.settings, call.user, journey_id)
    action = _action(path, call.user, journey)
    submitted = await request.form()
    fields = {key: submitted.getlist(key) for key in submitted.keys() if key != CSRF_FIELD}
    values, rows = forms.parse_form(action.schema(call), fields)
    if forms.ADD_ROW in fields:
        return _page(request, call, action, journey, values=values, rows=rows)
    try:
        body = action.model.model_validate({**values, **action.fill(call)})
        await action.run(call, body)
    except ValidationError as error:
        return _page(request, call, action, journey, values=values, rows=rows, status=422, errors=field_errors(error))
    except Refusal as refusal:
        if refusal.status != 422:
            raise
        return _page(request, call, action, journey, values=values, rows=rows, status=422,
                     errors=refusal.errors or [{"field": "", "message": refusal.detail}])
    return RedirectResponse(f"/parcours/{journey_id}?fait={action.done}", status_code=303)


def _register(path: str) -> None:
    url = "/parcours/{journey_id}/" + path.replace("{item}", "{item_id}")
    has_item = "{item}" in path

    async def show(journey_id: str, request: Request, visitor: VisitorDep, item_id: str | None = None):
        return await _show(request, visitor, journey_id, path, item_id if has_item else None)

    async def submit(journey_id: str, request: Request, visitor: VisitorDep, item_id: str | None = None):
        return await _submit(request, visitor, journey_id, path, item_id if has_item else None)

    router.add_api_route(url, show, methods=["GET"])
    router.add_api_route(url, submit, methods=["POST"])


for _path in ACTIONS:
    _register(_path)
