"""The steps of the demo's scenarios: what a client of the API does on a journey (complete a task,
record a paper signature with its scan, a contact, an employment episode, a veille, an exit), each
safe to do again when an interrupted seeding resumes: it looks first, or sends what the API takes
twice as once (an Idempotency-Key, the same completion)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Protocol

from eaflow.demo_client import DemoApi, DemoError, scan_pdf


@dataclass
class Run:
    """One scenario being played: the client, the accounts' ids, the journey."""

    api: DemoApi
    ids: dict[str, str]
    today: date
    journey_id: str
    last_name: str


class Action(Protocol):
    def run(self, run: Run) -> None: ...


def paris_today() -> date:
    """The day in Paris: the API dates a paper signature (never in the future) in Paris time."""
    try:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo("Europe/Paris")).date()
    except Exception:  # noqa: BLE001 (no tz database)
        return date.today()


@dataclass
class Step:
    """Wait for a task of `kind` on the journey; complete it as `actor` with `outcome` if given."""

    kind: str
    actor: str | None = None
    outcome: Callable[[Run], dict[str, Any]] | None = None

    def run(self, run: Run) -> None:
        api, journey = run.api, run.journey_id
        if self.outcome is None:  # only wait for it (done already is fine: someone worked the inbox)
            api.wait_for(lambda: api.tasks(journey, self.kind, "open") or api.tasks(journey, self.kind, "done"),
                         f"waiting for a {self.kind} task on journey {journey}")
            return
        if api.tasks(journey, self.kind, "done"):
            return  # completed by an earlier, interrupted run
        task = api.wait_open_task(journey, self.kind)
        api.complete(self.actor, task["id"], self.outcome(run))


@dataclass
class SignConvention:
    """R10: once the drafted version is out for signature (the platform's `sign_convention` task opens
    then), the parties `on_paper` sign the printed convention and the counsellor records each
    signature with its scan; then a manager signs for the platform through the task."""

    counsellor: str
    manager: str
    on_paper: tuple[str, ...] = ("person",)

    def run(self, run: Run) -> None:
        api, journey = run.api, run.journey_id
        if api.tasks(journey, "sign_convention", "done"):
            return
        task = api.wait_open_task(journey, "sign_convention")
        convention = api.get(self.counsellor, f"/api/v1/journeys/{journey}/convention")
        version, signed_on = convention["current_version"], paris_today()
        platform = next((p["name"] for p in convention["parties"] if p["role"] == "platform"), "")
        for role in self.on_paper:
            party = next((p for p in convention["parties"] if p["role"] == role), None)
            if party is None:
                raise DemoError(f"journey {journey}: the convention has no {role} party")
            if party["signed_at"] or party["refused_at"]:
                continue  # recorded by an earlier, interrupted run
            signer = party["signatory_name"] or party["name"]
            scan = scan_pdf("Convention individuelle d'accompagnement - exemplaire signé", [
                f"Plateforme emploi accompagné : {platform}.",
                f"Version {version}. Partie : {party['label']} ({party['name']}).",
                f"Lu et approuvé. Fait à Rennes, le {signed_on:%d/%m/%Y}.",
                f"Signature : {signer}",
            ])
            api.paper_signature(self.counsellor, journey, version=version, party_id=party["id"], signer_name=signer,
                                signed_on=signed_on, scan=scan, filename=f"convention-v{version}-{role}-signee.pdf")
        api.complete(self.manager, task["id"], {"decision": "sign"})


@dataclass
class Reaches:
    """Wait until the journey is in one of `states` (what the workflow does after a step is asynchronous;
    a journey that has gone further since, in an earlier run, has reached it too)."""

    states: frozenset[str]

    def run(self, run: Run) -> None:
        run.api.wait_state(run.journey_id, run.last_name, self.states)


# The accompaniment and what may follow it: the journey has a signed convention.
ACCOMPANIED = frozenset({"accompaniment", "veille", "relaunch", "exit_proposed", "exited", "transferred"})


@dataclass
class Contact:
    """R13: a contact recorded by the counsellor, `days_ago`; its Idempotency-Key makes a repeat one contact."""

    key: str
    actor: str
    days_ago: int
    minutes: int
    place: str
    channel: str
    participants: str
    note: str
    interview: bool = False

    def run(self, run: Run) -> None:
        body = {"occurred_on": (run.today - timedelta(days=self.days_ago)).isoformat(),
                "duration_minutes": self.minutes, "place": self.place, "channel": self.channel,
                "participants": self.participants, "reached": True, "interview": self.interview, "note": self.note}
        run.api.post(self.actor, f"/api/v1/journeys/{run.journey_id}/contacts", body,
                     idempotency_key=f"eaflow-demo:{self.key}")


@dataclass
class Employment:
    """R16: an employment episode opened by the counsellor (once: not if this employer is recorded)."""

    actor: str
    employer: str
    employer_type: str
    contract_type: str
    working_hours: str
    days_ago: int

    def run(self, run: Run) -> None:
        path = f"/api/v1/journeys/{run.journey_id}/employment"
        if any(e["employer"]["name"] == self.employer for e in run.api.get(self.actor, path)["items"]):
            return
        run.api.post(self.actor, path, {
            "action": "open", "employer": {"name": self.employer, "type": self.employer_type},
            "contract_type": self.contract_type, "working_hours": self.working_hours,
            "started_on": (run.today - timedelta(days=self.days_ago)).isoformat()})


@dataclass
class Veille:
    """R14: a veille at the person's request, with their formal agreement today, for `months` months."""

    actor: str
    months: int
    how: str
    conditions: str

    def run(self, run: Run) -> None:
        from eaflow.durations import Duration

        if run.api.listed_journey(run.journey_id, run.last_name)["state"] == "veille":
            return
        run.api.post(self.actor, f"/api/v1/journeys/{run.journey_id}/veille", {
            "requested_by": "person", "agreement": {"on": run.today.isoformat(), "how": self.how},
            "until": Duration.parse(f"P{self.months}M").from_date(run.today).isoformat(),
            "reactivation_conditions": self.conditions})


@dataclass
class ProposeExit:
    """R15, R18: the counsellor proposes an exit; a manager decides (`approve_exit`)."""

    actor: str
    reason: str
    details: dict[str, Any]
    analysis: str

    def run(self, run: Run) -> None:
        if run.api.listed_journey(run.journey_id, run.last_name)["state"] in ("exit_proposed", "exited"):
            return
        run.api.post(self.actor, f"/api/v1/journeys/{run.journey_id}/exit",
                     {"reason": self.reason, "details": self.details, "analysis": self.analysis})
