"""Demo data: one platform, its staff, and journeys at every stage.

Accounts are written directly in the database. Journeys go through the running API (so through the
real workflows, rules, tasks and mails), like a prescriber, a counsellor and a manager would: intake,
the CDAPH informed, a counsellor assigned, the shared evaluation, the convention drafted, signed on
paper (with a scan) and by the platform, contacts, an employment episode, a veille, an exit proposed.
Every person is fictitious. The shared password is for the demo only: never seed a production
database with it.

Idempotent: the progress is kept in DATA/.demo-seeded (JSON). A second run does nothing; a run that
was interrupted resumes where it stopped (journeys already created are not created again, steps
already done are not done again: see eaflow.demo_steps), and a data dir seeded by an older demo gets
the journeys it lacks.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

from eaflow.demo_client import DEMO_PASSWORD, DemoApi, DemoError
from eaflow.demo_steps import (
    ACCOMPANIED,
    Action,
    Contact,
    Employment,
    ProposeExit,
    Reaches,
    Run,
    SignConvention,
    Step,
    Veille,
)
from eaflow.settings import Settings

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "DemoError", "SCENARIOS", "is_seeded", "seed"]
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
COUNSELLOR_3 = "conseiller3@demo.eaflow.fr"
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
class Scenario:
    key: str
    description: str
    submitted_by: str
    intake: Callable[[date], dict[str, Any]]
    expect_state: str | None = None  # right after the intake
    steps: list[Action] = field(default_factory=list)
    ends_in: str | None = None  # the state it settles in once every step is done
    open_tasks: frozenset[str] | None = None  # and exactly these open tasks


def _years_ago(today: date, years: int, days: int = 0) -> date:
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return day - timedelta(days=days)


def _email(first_name: str, last_name: str, domain: str = "personnes.demo.eaflow.fr") -> str:
    slug = f"{first_name}.{last_name}".lower().replace(" ", "-")
    for accented, plain in (("é", "e"), ("è", "e"), ("ë", "e"), ("ï", "i"), ("ç", "c")):
        slug = slug.replace(accented, plain)
    return f"{slug}@{domain}"


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
    employer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    prescribed_on = today - timedelta(days=prescribed_days_ago)
    return {
        "person": {
            "first_name": first_name,
            "last_name": last_name,
            "birth_date": birth_date.isoformat(),
            "email": _email(first_name, last_name),
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
        "employer": employer,
        "consent": {"given_on": prescribed_on.isoformat(), "by": "person"},
    }


def _cdaph_informed(reference: str) -> Callable[[Run], dict[str, Any]]:
    return lambda run: {"informed_on": run.today.isoformat(), "how": "portail", "reference": reference}


def _assign(email: str) -> Callable[[Run], dict[str, Any]]:
    return lambda run: {"counsellor_id": run.ids[email]}


def _evaluation(wishes: str, needs: str, resources: str,
                employer_expectations: str | None = None) -> Callable[[Run], dict[str, Any]]:
    return lambda run: {"evaluated_on": run.today.isoformat(), "wishes": wishes, "needs": needs,
                        "resources": resources, "employer_expectations": employer_expectations}


def _draft(person: tuple[str, str], modalities: str, rhythm: str, objectives: str,
           employer: dict[str, Any] | None = None) -> Callable[[Run], dict[str, Any]]:
    """R10: the draft_convention outcome. `person` is (first name, last name)."""
    name = f"{person[0]} {person[1]}"
    return lambda _run: {"workplace_modalities": modalities, "rhythm": rhythm, "objectives": objectives,
                         "signs_for_person": "person", "person_signatory": {"name": name, "email": _email(*person)},
                         "employer": employer}


def _to_accompaniment(counsellor: str, evaluation: Callable[[Run], dict[str, Any]],
                      draft: Callable[[Run], dict[str, Any]], on_paper: tuple[str, ...]) -> list[Action]:
    """From the waiting list to a signed convention (an SPE prescription has its notify_cdaph step first)."""
    return [
        Step("assign_counsellor", MANAGER, _assign(counsellor)),
        Step("shared_evaluation", counsellor, evaluation),
        Step("draft_convention", counsellor, draft),
        SignConvention(counsellor, MANAGER, on_paper),
        Reaches(ACCOMPANIED),
    ]


EMPLOYER_35 = "Logistique Vilaine"
EMPLOYER_35_MAIL = "rh@logistique-vilaine.demo.eaflow.fr"

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
        ends_in="refused",
        open_tasks=frozenset(),
    ),
    Scenario(
        key="france_travail_waiting_cdaph",
        description="prescription France Travail sur liste d'attente, information de la CDAPH à faire (R2, R6)",
        submitted_by=PRESCRIBER,
        intake=lambda today: _intake(
            today, first_name="Camille", last_name="Lefebvre", birth_date=_years_ago(today, 34, 45),
            channel="france_travail", situation="seeking", prescribed_days_ago=2,
            subsidiarity_reason="Plusieurs ruptures de contrat faute d'appui sur le lieu de travail.",
        ),
        steps=[Step("notify_cdaph"), Step("assign_counsellor")],
        ends_in="waiting_list",
        open_tasks=frozenset({"notify_cdaph", "assign_counsellor"}),
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
        ends_in="waiting_list",
        open_tasks=frozenset({"assign_counsellor"}),
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
            Step("notify_cdaph", MANAGER, _cdaph_informed("MDPH35-DEMO-0042")),
            Step("assign_counsellor", MANAGER, _assign(COUNSELLOR_1)),
            Step("shared_evaluation"),
        ],
        ends_in="admitted",
        open_tasks=frozenset({"shared_evaluation"}),
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
            Step("shared_evaluation", COUNSELLOR_2, _evaluation(
                wishes="Travailler dans la logistique, à temps partiel au début.",
                needs="Aménagement du poste (charges lourdes à éviter), appui pour les premiers mois.",
                resources="Permis B, expérience de préparateur de commandes en ESAT, entourage familial soutenant.",
            )),
        ],
        ends_in="convention",
        open_tasks=frozenset({"draft_convention"}),
    ),
    Scenario(
        key="accompaniment_employed",
        description=("accompagné par Julien Martin : convention signée sur papier (la personne, l'employeur) "
                     "et par la plateforme, contacts dont un entretien, emploi en CDI"),
        submitted_by=MANAGER,
        intake=lambda today: _intake(
            today, first_name="Karim", last_name="Mansouri", birth_date=_years_ago(today, 38, 160),
            channel="cdaph", situation="employed", prescribed_days_ago=150,
            subsidiarity_reason="Embauché après une longue période sans emploi : le salarié et l'employeur ont "
                                "besoin d'un appui dans la durée pour que le poste tienne.",
            employer={"name": EMPLOYER_35, "kind": "private", "email": EMPLOYER_35_MAIL,
                      "contact_name": "Hélène Roux"},
        ),
        steps=[
            *_to_accompaniment(
                COUNSELLOR_1,
                _evaluation(
                    wishes="Garder son poste de préparateur de commandes et passer à temps plein d'ici un an.",
                    needs="Horaires aménagés le matin, pas de port de charges lourdes, un point régulier avec l'équipe.",
                    resources="CDI signé, responsable d'équipe attentive, permis cariste à jour.",
                    employer_expectations="Un interlocuteur unique pour ajuster le poste et le planning.",
                ),
                _draft(
                    ("Karim", "Mansouri"),
                    modalities="Une visite sur le poste par mois, annoncée à l'employeur ; un point à trois chaque "
                               "trimestre avec la responsable d'équipe.",
                    rhythm="Un contact tous les quinze jours pendant trois mois, puis un par mois.",
                    objectives="Stabiliser le poste aménagé et préparer le passage à temps plein.",
                    employer={"name": EMPLOYER_35, "signatory": {"name": "Hélène Roux", "email": EMPLOYER_35_MAIL,
                                                                 "quality": "responsable des ressources humaines"}},
                ),
                on_paper=("person", "employer"),
            ),
            Contact("mansouri-1", COUNSELLOR_1, 75, 30, "service", "phone", "person",
                    "Premier échange : attentes de Karim sur son nouveau poste, organisation des trajets."),
            Contact("mansouri-2", COUNSELLOR_1, 46, 90, "workplace", "in_person", "both",
                    "Visite sur le poste avec la responsable d'équipe : horaires du matin, charges au-delà de 15 kg "
                    "confiées à un collègue."),
            Contact("mansouri-3", COUNSELLOR_1, 19, 20, "service", "phone", "employer",
                    "Échange avec le service RH sur le planning de l'été."),
            Contact("mansouri-4", COUNSELLOR_1, 0, 60, "service", "in_person", "person",
                    "Entretien : bilan des premiers mois, lecture et signature de la convention.", interview=True),
            Employment(COUNSELLOR_1, EMPLOYER_35, "private", "cdi", "28 h / semaine", days_ago=95),
        ],
        ends_in="accompaniment",
        open_tasks=frozenset(),
    ),
    Scenario(
        key="veille_two_months",
        description="accompagnée par Sophie Bernard, en veille deux mois à sa demande (formation) : avenant à rédiger",
        submitted_by=PRESCRIBER,
        intake=lambda today: _intake(
            today, first_name="Élodie", last_name="Marchand", birth_date=_years_ago(today, 29, 30),
            channel="cap_emploi", situation="seeking", prescribed_days_ago=100,
            subsidiarity_reason="Reconversion après un licenciement pour inaptitude : besoin d'un appui renforcé "
                                "pour s'intégrer dans une nouvelle entreprise.",
        ),
        steps=[
            Step("notify_cdaph", MANAGER, _cdaph_informed("MDPH35-DEMO-0057")),
            *_to_accompaniment(
                COUNSELLOR_2,
                _evaluation(
                    wishes="Travailler dans l'accueil ou le secrétariat médical.",
                    needs="Se former au logiciel de prise de rendez-vous ; un poste sans station debout prolongée.",
                    resources="Dix ans d'expérience en relation clientèle, mobilité en bus sur Rennes Métropole.",
                ),
                _draft(
                    ("Élodie", "Marchand"),
                    modalities="Présentation aux employeurs lors de la recherche, puis une visite sur le poste dans "
                               "le mois qui suit l'embauche.",
                    rhythm="Un entretien par mois et un contact téléphonique entre deux.",
                    objectives="Trouver un emploi d'agente d'accueil et s'y maintenir.",
                ),
                on_paper=("person",),
            ),
            Contact("marchand-1", COUNSELLOR_2, 0, 45, "service", "in_person", "person",
                    "Entretien : Élodie entre en formation qualifiante pour deux mois et demande une mise en veille.",
                    interview=True),
            Veille(COUNSELLOR_2, months=2, how="écrit signé remis lors de l'entretien",
                   conditions="À la fin de la formation, ou plus tôt à la demande d'Élodie : un appel suffit."),
        ],
        ends_in="veille",
        open_tasks=frozenset({"draft_avenant"}),
    ),
    Scenario(
        key="exit_proposed",
        description=("accompagné par Thomas Petit, sortie proposée à sa demande : "
                     "décision du responsable à prendre (approve_exit)"),
        submitted_by=MANAGER,
        intake=lambda today: _intake(
            today, first_name="Pascal", last_name="Rivière", birth_date=_years_ago(today, 57, 250),
            channel="cdaph", situation="seeking", prescribed_days_ago=200,
            subsidiarity_reason="Retour vers l'emploi après une longue maladie : besoin d'un suivi dans la durée.",
        ),
        steps=[
            *_to_accompaniment(
                COUNSELLOR_3,
                _evaluation(
                    wishes="Reprendre un emploi d'agent d'entretien des espaces verts, à mi-temps.",
                    needs="Un employeur informé de ses restrictions (pas de travail en hauteur).",
                    resources="Vingt ans d'expérience, réseau dans les communes de l'agglomération.",
                ),
                _draft(
                    ("Pascal", "Rivière"),
                    modalities="Accompagnement aux entretiens d'embauche, puis une visite sur le poste par mois.",
                    rhythm="Un entretien toutes les trois semaines.",
                    objectives="Retrouver un emploi à mi-temps dans les espaces verts.",
                ),
                on_paper=("person",),
            ),
            Contact("riviere-1", COUNSELLOR_3, 33, 25, "service", "phone", "person",
                    "Point téléphonique : Pascal hésite à poursuivre, il préfère reprendre contact avec son ancien "
                    "employeur seul."),
            Contact("riviere-2", COUNSELLOR_3, 0, 50, "service", "in_person", "person",
                    "Entretien : Pascal confirme qu'il souhaite arrêter l'accompagnement ; informé des conséquences, "
                    "il décline l'accompagnement allégé proposé.", interview=True),
            ProposeExit(COUNSELLOR_3, "person_request", {"informed": True, "low_intensity_offered": True},
                        "Pascal souhaite poursuivre ses démarches seul auprès de son ancien employeur. Il a été "
                        "informé qu'il pourrait revenir vers la plateforme par une nouvelle orientation ; un "
                        "accompagnement de faible intensité lui a été proposé, qu'il a décliné."),
            Step("approve_exit"),
        ],
        ends_in="exit_proposed",
        open_tasks=frozenset({"approve_exit"}),
    ),
)


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------
PARALLEL_SCENARIOS = 3  # journeys are independent: a few at once, while the others wait for their workflow


def marker_path(settings: Settings) -> Path:
    return settings.data_dir / MARKER_NAME


def _read_progress(settings: Settings) -> dict[str, Any]:
    try:
        progress = json.loads(marker_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return progress if isinstance(progress, dict) else {}


def is_seeded(settings: Settings) -> bool:
    """Every scenario of this version is seeded (a data dir seeded by an older demo is not)."""
    progress = _read_progress(settings)
    journeys = progress.get("journeys") or {}
    return bool(progress.get("complete")) and all(s.key in journeys for s in SCENARIOS)


def _person_of(scenario: Scenario, today: date) -> dict[str, Any]:
    return scenario.intake(today)["person"]


def _summary(api: DemoApi, journeys: dict[str, str], today: date) -> list[str]:
    """One line per demo journey: its id, its state now, the person (first name, initial), the story."""
    views = api.journeys()
    lines = []
    for scenario in SCENARIOS:
        journey_id = journeys.get(scenario.key)
        view = views.get(journey_id or "")
        if view is None:
            continue
        person = _person_of(scenario, today)
        tasks = sorted({t["kind"] for t in view.get("open_tasks", [])})
        lines.append(f"demo journey {journey_id} {view['state']:<14} {person['first_name']} "
                     f"{person['last_name'][0]}.: {scenario.description}"
                     + (f" [open: {', '.join(tasks)}]" if tasks else ""))
    return lines


def seed(settings: Settings, api_url: str, say: Callable[[str], None] = print, timeout: float = 60.0,
         parallel: int = PARALLEL_SCENARIOS) -> str:
    """Seed the demo (idempotent). Returns a one-line report."""
    import httpx

    marker = marker_path(settings)
    progress = _read_progress(settings)
    if is_seeded(settings):
        _say_states(api_url, progress.get("journeys") or {}, say)
        return f"demo data already seeded ({marker})"
    if progress.get("complete") and "done" not in progress:
        progress["done"] = list(progress.get("journeys") or {})  # seeded by an older demo: those are done
    progress.setdefault("journeys", {})
    progress.setdefault("done", [])
    progress["complete"] = False
    lock = threading.Lock()

    def save() -> None:
        with lock:
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
    api = DemoApi(api_url, timeout, inbox_reader=MANAGER)
    today = date.today()

    def play(scenario: Scenario) -> None:
        person = _person_of(scenario, today)
        journey_id, found_again = progress["journeys"].get(scenario.key), False
        if journey_id is None:
            # The Idempotency-Key makes a repeat (the marker lost, a run interrupted) find the same journey.
            created, new = api.create_journey(scenario.submitted_by, scenario.intake(today),
                                              idempotency_key=f"eaflow-demo:{scenario.key}")
            journey_id = created["id"]
            found_again = not new  # started by an earlier run whose marker was lost: it may have moved on since
            if scenario.expect_state and created.get("state") != scenario.expect_state and new:
                raise DemoError(f"journey {journey_id} ({scenario.key}) is {created.get('state')!r}, "
                                f"expected {scenario.expect_state!r}")
            with lock:
                progress["journeys"][scenario.key] = journey_id
            save()
        if scenario.key in progress["done"]:
            return
        run = Run(api=api, ids=ids, today=today, journey_id=journey_id, last_name=person["last_name"])
        for step in scenario.steps:
            step.run(run)
        if not found_again and (scenario.ends_in is not None or scenario.open_tasks is not None):
            states = None if scenario.ends_in is None else frozenset({scenario.ends_in})
            api.wait_state(journey_id, person["last_name"], states, scenario.open_tasks)
        with lock:
            progress["done"].append(scenario.key)
        save()

    todo = [s for s in SCENARIOS if s.key not in progress["done"]]
    say(f"seeding {len(todo)} demo journeys through the API…")
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="demo") as pool:
            futures = [(scenario, pool.submit(play, scenario)) for scenario in todo]
            for scenario, future in futures:
                try:
                    future.result()  # the first failure (raised once every scenario has stopped)
                except (DemoError, httpx.HTTPError):
                    raise
                except Exception as exc:  # noqa: BLE001 (an unexpected answer: a warning, never a crash)
                    raise DemoError(f"demo journey {scenario.key!r}: {type(exc).__name__}: {exc}") from exc
        for line in _summary(api, progress["journeys"], today):
            say(line)
    except httpx.HTTPError as exc:
        raise DemoError(f"the API at {api_url} did not answer ({type(exc).__name__}: {exc})") from None
    finally:
        api.close()
    progress["complete"] = True
    save()
    return f"demo data seeded: {len(SCENARIOS)} journeys ({marker})"


def _say_states(api_url: str, journeys: dict[str, str], say: Callable[[str], None]) -> None:
    """Where the demo journeys are now, when the demo was seeded earlier: best effort, silent on failure
    (the accounts' passwords may have changed, the API may not run)."""
    api = DemoApi(api_url, timeout=10, inbox_reader=MANAGER)
    try:
        lines = _summary(api, journeys, date.today())
    except Exception:  # noqa: BLE001 (a courtesy only)
        return
    finally:
        api.close()
    for line in lines:
        say(line)
