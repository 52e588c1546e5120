"""Demo data: one platform, its staff, and a few journeys at different stages.

Accounts are written directly in the database. Journeys go through the running API (so through
the real workflows, rules, tasks and mails), like a prescriber and a manager would. Every person is
fictitious. The shared password is for the demo only: never seed a production database with it.

Idempotent: the progress is kept in DATA/.demo-seeded (JSON). A second run does nothing; a run that
was interrupted resumes where it stopped (journeys already created are not created again, tasks
already completed are not completed again).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

from eaflow.settings import Settings

DEMO_PASSWORD = "demo-eaflow"
DEMO_DEPARTMENT = "35"
DEMO_PLATFORM_NAME = "Plateforme emploi accompagné d'Ille-et-Vilaine"
DEMO_OPERATOR = "Association Trajectoires 35"
DEMO_MAILBOX = "plateforme35@demo.eaflow.fr"
MARKER_NAME = ".demo-seeded"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    display_name: str
    fte: float = 0.0


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("manager@demo.eaflow.fr", "manager", "Claire Dubois"),
    DemoAccount("conseiller1@demo.eaflow.fr", "counsellor", "Julien Martin", 1.0),
    DemoAccount("conseiller2@demo.eaflow.fr", "counsellor", "Sophie Bernard", 0.8),
    DemoAccount("conseiller3@demo.eaflow.fr", "counsellor", "Thomas Petit", 0.5),
    DemoAccount("prescripteur@demo.eaflow.fr", "prescriber", "Nadia Haddad (France Travail Rennes)"),
    DemoAccount("admin@demo.eaflow.fr", "admin", "Administrateur démo"),
)

MANAGER = "manager@demo.eaflow.fr"
COUNSELLOR_1 = "conseiller1@demo.eaflow.fr"
COUNSELLOR_2 = "conseiller2@demo.eaflow.fr"
PRESCRIBER = "prescripteur@demo.eaflow.fr"


def seed_accounts(db_url: str) -> dict[str, str]:
    """The demo platform and accounts (created if missing). Returns {email: user id}."""
    from eaflow import accounts
    from eaflow.store.db import session_scope
    from eaflow.store.models import Platform
    from sqlmodel import select

    ids: dict[str, str] = {}
    with session_scope(db_url) as session:
        platform = session.exec(select(Platform).where(Platform.department == DEMO_DEPARTMENT)).first()
        if platform is None:
            platform = accounts.create_platform(
                session, DEMO_DEPARTMENT, DEMO_PLATFORM_NAME, operator=DEMO_OPERATOR, mailbox=DEMO_MAILBOX
            )
        for account in DEMO_ACCOUNTS:
            user = accounts.find_user_by_email(session, account.email)
            if user is None:
                user = accounts.create_user(
                    session,
                    account.email,
                    account.role,
                    DEMO_PASSWORD,
                    platform_id=platform.id,
                    fte=account.fte,
                    display_name=account.display_name,
                )
            ids[account.email] = user.id
    return ids


# --------------------------------------------------------------------------------------------
# Journeys
# --------------------------------------------------------------------------------------------
@dataclass
class Step:
    """Wait for a task of `kind` on the journey; complete it as `actor` with `outcome` if given."""

    kind: str
    actor: str | None = None
    outcome: Callable[[dict[str, str]], dict[str, Any]] | None = None


@dataclass
class Scenario:
    key: str
    description: str
    submitted_by: str
    intake: Callable[[date], dict[str, Any]]
    expect_state: str | None = None
    steps: list[Step] = field(default_factory=list)


def _years_ago(today: date, years: int, days: int = 0) -> date:
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return day - timedelta(days=days)


def _intake(
    today: date,
    *,
    first_name: str,
    last_name: str,
    birth_date: date,
    channel: str,
    situation: str,
    prescribed_days_ago: int,
    subsidiarity_reason: str,
    urgent: bool = False,
) -> dict[str, Any]:
    prescribed_on = today - timedelta(days=prescribed_days_ago)
    slug = f"{first_name}.{last_name}".lower().replace(" ", "-")
    for accented, plain in (("é", "e"), ("è", "e"), ("ë", "e"), ("ï", "i"), ("ç", "c")):
        slug = slug.replace(accented, plain)
    return {
        "person": {
            "first_name": first_name,
            "last_name": last_name,
            "birth_date": birth_date.isoformat(),
            "email": f"{slug}@personnes.demo.eaflow.fr",
            "phone": "06 00 00 00 00",
            "legal_representative": None,
        },
        "channel": channel,
        "urgent": urgent,
        "prescribed_on": prescribed_on.isoformat(),
        "situation": situation,
        "rights": {"rqth_until": (today + timedelta(days=3 * 365)).isoformat(), "rqth_permanent": False, "boe_category": None},
        "subsidiarity_reason": subsidiarity_reason,
        "other_support": None,
        "employer": None,
        "consent": {"given_on": prescribed_on.isoformat(), "by": "person"},
    }


def _cdaph_informed(_ids: dict[str, str]) -> dict[str, Any]:
    return {"informed_on": date.today().isoformat(), "how": "portail", "reference": "MDPH35-DEMO-0042"}


def _assign(email: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    return lambda ids: {"counsellor_id": ids[email]}


def _evaluation(_ids: dict[str, str]) -> dict[str, Any]:
    return {
        "evaluated_on": date.today().isoformat(),
        "wishes": "Travailler dans la logistique, à temps partiel au début.",
        "needs": "Aménagement du poste (charges lourdes à éviter), appui pour les premiers mois.",
        "resources": "Permis B, expérience de préparateur de commandes en ESAT, entourage familial soutenant.",
        "employer_expectations": None,
    }


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="refused_under_16",
        description="prescription refusée (moins de 16 ans, R1)",
        submitted_by=PRESCRIBER,
        intake=lambda today: _intake(
            today, first_name="Lucas", last_name="Moreau", birth_date=_years_ago(today, 15, 20),
            channel="france_travail", situation="seeking", prescribed_days_ago=3,
            subsidiarity_reason="Besoin d'un appui durable dans l'emploi que l'accompagnement de droit commun n'offre pas.",
        ),
        expect_state="refused",
    ),
    Scenario(
        key="france_travail_waiting_cdaph",
        description="prescription France Travail en attente de l'information de la CDAPH",
        submitted_by=PRESCRIBER,
        intake=lambda today: _intake(
            today, first_name="Camille", last_name="Lefebvre", birth_date=_years_ago(today, 34, 45),
            channel="france_travail", situation="seeking", prescribed_days_ago=2,
            subsidiarity_reason="Plusieurs ruptures de contrat faute d'appui sur le lieu de travail.",
        ),
        steps=[Step("notify_cdaph")],
    ),
    Scenario(
        key="cdaph_waiting_list",
        description="orientation CDAPH sur liste d'attente",
        submitted_by=MANAGER,
        intake=lambda today: _intake(
            today, first_name="Mathis", last_name="Girard", birth_date=_years_ago(today, 27, 110),
            channel="cdaph", situation="leaving_esat", prescribed_days_ago=12,
            subsidiarity_reason="Sortie d'ESAT vers le milieu ordinaire : un accompagnement renforcé est nécessaire.",
        ),
        steps=[Step("assign_counsellor")],
    ),
    Scenario(
        key="admitted_evaluation_open",
        description="admise avec Julien Martin, évaluation partagée à faire",
        submitted_by=PRESCRIBER,
        intake=lambda today: _intake(
            today, first_name="Inès", last_name="Fontaine", birth_date=_years_ago(today, 41, 200),
            channel="cap_emploi", situation="about_to_be_hired", prescribed_days_ago=20,
            subsidiarity_reason="Embauche prévue : l'employeur et la personne ont besoin d'un interlocuteur unique.",
        ),
        steps=[
            Step("notify_cdaph", MANAGER, _cdaph_informed),
            Step("assign_counsellor", MANAGER, _assign(COUNSELLOR_1)),
            Step("shared_evaluation"),
        ],
    ),
    Scenario(
        key="evaluation_done",
        description="admis avec Sophie Bernard, évaluation partagée faite, convention à rédiger",
        submitted_by=MANAGER,
        intake=lambda today: _intake(
            today, first_name="Yann", last_name="Le Gall", birth_date=_years_ago(today, 52, 75),
            channel="cdaph", situation="seeking", prescribed_days_ago=40,
            subsidiarity_reason="Reconversion après un accident du travail, besoin d'un suivi dans la durée.",
        ),
        steps=[
            Step("assign_counsellor", MANAGER, _assign(COUNSELLOR_2)),
            Step("shared_evaluation", COUNSELLOR_2, _evaluation),
        ],
    ),
)


# --------------------------------------------------------------------------------------------
# Talking to the API
# --------------------------------------------------------------------------------------------
class DemoError(RuntimeError):
    pass


class _Api:
    def __init__(self, base_url: str, timeout: float):
        import httpx

        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=30)
        self.timeout = timeout
        self.tokens: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def _check(self, response, what: str):
        if response.status_code >= 400:
            raise DemoError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
        return response.json()

    def headers(self, email: str) -> dict[str, str]:
        if email not in self.tokens:
            response = self.http.post(
                "/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD}
            )
            self.tokens[email] = self._check(response, f"login as {email}")["access_token"]
        return {"Authorization": f"Bearer {self.tokens[email]}"}

    def create_journey(self, email: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/api/v1/journeys", json=body, headers=self.headers(email))
        return self._check(response, "POST /api/v1/journeys")

    def tasks(self, journey_id: str, kind: str, status: str) -> list[dict[str, Any]]:
        response = self.http.get(
            "/api/v1/tasks",
            params={"journey_id": journey_id, "kind": kind, "status": status},
            headers=self.headers(MANAGER),
        )
        return self._check(response, "GET /api/v1/tasks")["items"]

    def wait_open_task(self, journey_id: str, kind: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            items = self.tasks(journey_id, kind, "open")
            if items:
                return items[0]
            if time.monotonic() > deadline:
                raise DemoError(f"no open {kind} task appeared on journey {journey_id} within {self.timeout:.0f} s")
            time.sleep(0.5)

    def complete(self, email: str, task_id: str, outcome: dict[str, Any]) -> None:
        response = self.http.post(
            f"/api/v1/tasks/{task_id}/complete", json={"outcome": outcome}, headers=self.headers(email)
        )
        self._check(response, f"completing task {task_id}")


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------
def marker_path(settings: Settings) -> Path:
    return settings.data_dir / MARKER_NAME


def is_seeded(settings: Settings) -> bool:
    try:
        return bool(json.loads(marker_path(settings).read_text()).get("complete"))
    except (OSError, ValueError):
        return False


def seed(settings: Settings, api_url: str, say: Callable[[str], None] = print, timeout: float = 60.0) -> str:
    """Seed the demo (idempotent). Returns a one-line report."""
    import httpx

    marker = marker_path(settings)
    if is_seeded(settings):
        return f"demo data already seeded ({marker})"
    try:
        progress = json.loads(marker.read_text())
    except (OSError, ValueError):
        progress = {}
    progress.setdefault("journeys", {})
    progress["complete"] = False

    def save() -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(progress, indent=2, ensure_ascii=False) + "\n")

    try:
        health = httpx.get(f"{api_url.rstrip('/')}/healthz", timeout=10)
    except httpx.HTTPError as exc:
        raise DemoError(f"the API at {api_url} does not answer ({type(exc).__name__})") from None
    if health.status_code != 200:
        raise DemoError(f"the API at {api_url} is not healthy: HTTP {health.status_code} {health.text[:300]}")

    from eaflow.store.migrate import upgrade

    upgrade(settings.db_url)
    ids = seed_accounts(settings.db_url)
    say(f"demo accounts ready ({len(ids)}, password {DEMO_PASSWORD!r})")
    api = _Api(api_url, timeout)
    today = date.today()
    try:
        for scenario in SCENARIOS:
            journey_id = progress["journeys"].get(scenario.key)
            if journey_id is None:
                created = api.create_journey(scenario.submitted_by, scenario.intake(today))
                journey_id = created["id"]
                if scenario.expect_state and created.get("state") != scenario.expect_state:
                    raise DemoError(
                        f"journey {journey_id} ({scenario.key}) is {created.get('state')!r}, "
                        f"expected {scenario.expect_state!r}"
                    )
                progress["journeys"][scenario.key] = journey_id
                save()
            for step in scenario.steps:
                if step.outcome is not None and api.tasks(journey_id, step.kind, "done"):
                    continue  # completed by an earlier, interrupted run
                task = api.wait_open_task(journey_id, step.kind)
                if step.outcome is not None:
                    api.complete(step.actor, task["id"], step.outcome(ids))
            say(f"demo journey {journey_id}: {scenario.description}")
    except httpx.HTTPError as exc:
        raise DemoError(f"the API at {api_url} did not answer ({type(exc).__name__}: {exc})") from None
    finally:
        api.close()
    progress["complete"] = True
    save()
    return f"demo data seeded: {len(SCENARIOS)} journeys ({marker})"
