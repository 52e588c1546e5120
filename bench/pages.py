"""Server time of the counsellor's and the manager's pages at scale, on PostgreSQL, through the real app.

    .venv/bin/python -m bench.pages [--journeys 10000] [--tasks 100000] [--requests 300] [--platforms 10]
                                    [--caseload 20] [--past-views 10] [--users 60] [--server test|machine]
                                    [--no-gc-freeze] [--profile [N]] [-v] [--quick] [--keep]

Seeds directly into a fresh PostgreSQL database (migrated by `upgrade`, then bulk INSERTs), as
bench/inbox_latency.py does:
* `--platforms` platforms, one manager each, and as many counsellors (FTE 1.0, French names) as it
  takes to follow the open journeys (admitted to veille, 72 %) at `--caseload` persons each (R7: 20
  per FTE);
* `--journeys` journeys, each with its Person (French first and last names, birth dates 1962-2005,
  `search_name` "first last" lowercased, an e-mail and a phone; 8 % with a legal representative,
  the persons in work with their employer): 15 % `waiting_list` (no counsellor, the R6 `waiting_key`
  of eaflow.workflows.rules), 12 % `admitted`, 13 % `convention`, 37 % `accompaniment`, 10 % `veille`,
  10 % `exited` and 3 % `refused` (at intake, R1/R3/R5), with dates that follow one another
  (prescription, admission, shared evaluation, signature, exit) and their counsellor's assignment row.
  An exited journey went through a signed convention and an exit procedure (R18: `exit_proposed`, the
  manager's `approve_exit` done, `journey_exited`, its `exit_procedure` row, a reason among R15's); a
  third of the exits fall in the last complete calendar quarter (the indicators' default period), the
  others in the 15 months before today;
* their open tasks, as the journey would have opened them: `shared_evaluation` (admitted),
  `draft_convention` (convention), `plan_interview` on the next interview's deadline (some already
  past: R12's late interviews) plus, for some, `renew_rights`, `relaunch_attempt`, `draft_avenant`,
  `analyse_silence` (accompaniment), `veille_ending` and `renew_rights` (veille), all assigned to the
  counsellor (1 in 50 given back to the team; some overdue), and the managers' `assign_counsellor`,
  `notify_cdaph`, `interview_overdue`;
* completed tasks up to `--tasks` in all: the entry's (notify_cdaph, assign_counsellor,
  shared_evaluation, draft_convention, sign_convention, approve_exit) and then quarterly
  `plan_interview`s (each with its interview contact), `relaunch_attempt`s and `renew_rights` spread
  over the accompaniment's life (until the exit, for an exited journey);
* contacts (R13, valid place/channel/participants, about one a month from admission to today or the
  exit, phone, on site, at the workplace, some attempts that did not reach the person), and the
  `intensity_month` rows recording them leaves (R11 minutes, R13 workplace minutes, the level), so the
  file's intensity and the indicators have months to read; a signed convention (one version with its
  real HTML and PDFs, rendered once by eaflow.documents and reused, its parties and accepted
  signatures) for the journeys in accompaniment, veille or exited, a shared evaluation from the
  convention on; employment episodes for a third of those (some closed);
* the audit trail those make (R21: prescription, intake, waiting list, assignment, task opened and
  done, evaluation, convention drafted and signed, veille, exit, contacts; the steps carry
  `detail.state`, as record_step writes it, which the indicators read back as each journey's timeline)
  and `--past-views` earlier views of each file by its counsellor (five read events each, R22: every
  read is traced, and the history page reads them back);
* ANALYZE, then web sessions written directly (`AccessToken` kind "web", last used now; signing in
  through argon2 would take minutes), for `--users` counsellors drawn at random and every manager.
It then prints what the managers' pages have to show on one platform (its journeys by state, the
team's overdue tasks and late interviews, and the key figures of its indicators for the last complete
quarter, computed by eaflow.indicators), so that an empty report cannot pass unnoticed.

Then, through the FastAPI app in this process (httpx ASGITransport: no network, no uvicorn, the
lifespan is not run, so no Temporal connection: a GET page never asks for it; the app, its
dependencies, the services, SQLAlchemy, psycopg and PostgreSQL are the real ones), one request at a
time, with the cookie `eaflow_session` and `Accept: text/html`, each as a counsellor drawn from those
signed in:
* `/`, the inbox ("Mes tâches": my open tasks, the team's, the counts by kind, saved views);
* `/taches/{id}`, one of the counsellor's own open tasks, the kinds taken in turn
  (shared_evaluation, plan_interview, draft_convention);
* `/parcours/{id}`, one of the counsellor's journeys (the person's file; not an exited one);
and each as a manager drawn from the platforms' managers:
* `/liste-attente`, the waiting list of their platform in R6 order, each person with an "Attribuer"
  form listing the counsellors and their loads (R7), and the counsellors' capacities
  (eaflow.services.team `waiting_list`, `assignable`);
* `/equipe`, the team: each counsellor's caseload against capacity, persons in veille, overdue tasks,
  quarterly interviews past due (R12) and next deadlines (eaflow.services.team `team`);
* `/indicateurs`, the steering indicators of the last complete quarter (R20: no period asked, the
  page's default; eaflow.services.reports and eaflow.indicators), tables and charts.
After a warm-up, the six pages are measured in turn, `--requests` times each. The server time is
the wall time of one request through ASGITransport (the whole app, the database round trips over
loopback TCP, the rendering; the client's own share is a fraction of a millisecond). Every answer
must be a 200 holding the page's `<h1>` ("Mes tâches", the task's title, the person's name, "Liste
d'attente", "Équipe", "Indicateurs…"), or the script fails. Prints p50/p95/p99/max per page (and per
task kind, per journey state), the SQL statements one request of each page sends, and each page's p95
against its target (`TARGETS_MS`): < 100 ms for every page, < 500 ms for `/indicateurs`.
`--profile` adds a breakdown of each page's time by service call (with its SQL time and
statements). Exits 0 when every page's p95 is under its target, else 1.
PostgreSQL: tests/pg.py's PostgresServer when it exists (test settings: fsync off), else
bench/harness.py's BenchPostgres; `--server machine` takes BenchPostgres on the machine's own
initdb/pg_ctl with their default settings (fsync on: each audited read commits to disk, as in
production).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import secrets
import signal
import statistics
import sys
import threading
import time
import unicodedata
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Self

TARGET_P95_MS = 100.0
# The p95 each page must stay under: 100 ms for every page, 500 ms for the quarter's indicators (issue 12).
TARGETS_MS = {"/": TARGET_P95_MS, "/taches/{id}": TARGET_P95_MS, "/parcours/{id}": TARGET_P95_MS,
              "/liste-attente": TARGET_P95_MS, "/equipe": TARGET_P95_MS, "/indicateurs": 500.0}
SESSION_COOKIE = "eaflow_session"
TASK_PAGE_KINDS = ("shared_evaluation", "plan_interview", "draft_convention")
READ_ACTIONS = ("journey_read", "history_read", "convention_read", "contacts_read", "employment_read")

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Jade", "Louise", "Zoé", "Lucie", "Anaïs",
    "Hélène", "Nathalie", "Sandrine", "Isabelle", "Céline", "Aurélie", "Sophie", "Élodie", "Fatima", "Aïcha",
    "Mélanie", "Marie", "Julie", "Océane", "Maëlle", "Clémence", "Gaëlle", "Noémie",
    "Lucas", "Hugo", "Louis", "Nathan", "Théo", "Enzo", "Mathis", "Thomas", "Nicolas", "Julien", "Kévin",
    "Sébastien", "Jérôme", "Frédéric", "Stéphane", "Mehdi", "Karim", "Yanis", "Mamadou", "Moussa", "Rémi",
    "Benoît", "François", "Loïc", "Maxime", "Antoine", "Adrien", "Baptiste", "Jean-Pierre", "Anne-Sophie",
)
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
    "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin",
    "Masson", "Sanchez", "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier",
    "Roger", "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean", "Pérez", "Marchand", "Dufour",
    "Blanchard", "Barbier", "Brun", "Dumas", "Brunet", "Schmitt", "Leroux", "Colin", "Fernandez", "N'Diaye",
    "Diallo", "Traoré", "Benali", "Haddad", "Le Gall", "Le Goff", "Caron", "Picard", "Hoarau", "Payet",
)
EMPLOYERS = ("Boulangerie Martin", "Mairie de Saint-Herblain", "Carrefour Market", "Établissements Roche SARL",
             "EHPAD Les Tilleuls", "Centre hospitalier", "La Poste", "Atelier Dupont", "Leclerc Drive",
             "Communauté de communes", "Restaurant Le Relais", "Transports Girard", "Jardins de Cocagne")
NOTES = ("Point sur la semaine au poste : tout se passe bien, fatigue en fin de journée.",
         "Échange avec la tutrice : adaptation des horaires envisagée.",
         "La personne souhaite revoir son projet de formation.",
         "Message laissé, rappel prévu la semaine prochaine.",
         "Visite sur le lieu de travail avec l'employeur : aménagement du poste validé.",
         "Préparation de l'entretien d'embauche.")
WISHES = "Travailler dans la vente ou la logistique, à temps partiel, près de chez elle."
NEEDS = "Un accompagnement à la prise de poste et un aménagement des horaires."
RESOURCES = "Permis B, expérience en magasin, soutien de sa famille."

STATES = (("waiting_list", 0.15), ("admitted", 0.12), ("convention", 0.13), ("accompaniment", 0.37),
          ("veille", 0.10), ("exited", 0.10), ("refused", 0.03))
FOLLOWED = ("admitted", "convention", "accompaniment", "veille")  # with a counsellor, open
SIGNED = ("accompaniment", "veille", "exited")  # went through a signed convention
EXIT_REASONS = (("person_request", 0.30), ("disengagement", 0.20), ("reorientation", 0.15), ("move", 0.15),
                ("non_renewal", 0.15), ("death", 0.05))
REFUSAL_RULES = (("R1", 0.6), ("R3", 0.2), ("R5", 0.2))
CHANNELS = (("cdaph", 0.4), ("france_travail", 0.3), ("cap_emploi", 0.2), ("mission_locale", 0.1))
SITUATIONS = (("seeking", 0.5), ("employed", 0.3), ("about_to_be_hired", 0.1), ("leaving_esat", 0.1))


# ------------------------------------------------------------------------------ seeding
def _pick(rng: random.Random, weighted) -> str:
    roll, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if roll < total:
            return value
    return weighted[-1][0]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "-").replace("'", "")


def _at(day: date, rng: random.Random) -> datetime:
    """A moment of a working day."""
    return datetime(day.year, day.month, day.day, 8, 30, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 540))


class Rows:
    """The rows to insert, by table, flushed in the order of the foreign keys whenever they pile up."""

    def __init__(self, session, order: list, threshold: int = 20_000):
        self.session, self.order, self.threshold = session, order, threshold
        self.rows: dict[Any, list[dict]] = {model: [] for model in order}
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, model, row: dict) -> None:
        self.rows[model].append(row)
        self.counts[model.__tablename__] += 1
        if sum(len(r) for r in self.rows.values()) >= self.threshold:
            self.flush()

    def flush(self) -> None:
        from sqlalchemy import insert

        for model in self.order:
            pending = self.rows[model]
            for start in range(0, len(pending), 5000):
                self.session.execute(insert(model), pending[start:start + 5000])
            self.rows[model] = []


def sample_convention(rng: random.Random) -> dict[str, Any]:
    """One real convention (HTML as eaflow.documents renders it, its PDF and signed PDF), reused by
    every seeded journey: the page reads rows of the size production stores."""
    from eaflow.documents.render import render, sha256, to_pdf

    when = datetime.now(UTC)
    content = {"workplace_modalities": "Une visite sur le lieu de travail par mois, et à la demande de l'employeur.\n"
                                       "Un point trimestriel avec la tutrice.",
               "rhythm": "Un entretien tous les quinze jours les trois premiers mois, puis un par mois.",
               "objectives": f"Souhaits de la personne : {WISHES}\nBesoins identifiés : {NEEDS}",
               "signs_for_person": "person",
               "person_signatory": {"name": "Camille Martin", "email": "camille.martin@exemple.fr", "quality": None},
               "employer": {"name": "Boulangerie Martin", "self_employed": False,
                            "signatory": {"name": "Paul Roche", "email": "rh@boulangerie.fr", "quality": "gérant"}}}
    parties = [{"role": "platform", "label": "la plateforme", "name": "Association Emploi 44", "signatory_name": "",
                "signatory_quality": None},
               {"role": "person", "label": "la personne accompagnée", "name": "Camille Martin",
                "signatory_name": "Camille Martin", "signatory_quality": None},
               {"role": "employer", "label": "l'employeur", "name": "Boulangerie Martin",
                "signatory_name": "Paul Roche", "signatory_quality": "gérant"}]
    html = render("convention.html.j2", version={"number": 1, "kind": "initial", "drafted_on": when, "content_hash": ""},
                  parties=parties, person={"first_name": "Camille", "last_name": "Martin", "birth_date": date(1991, 4, 2)},
                  counsellor_name="Julie Moreau", employer=content["employer"],
                  platform={"name": "Plateforme 44", "operator": "Association Emploi 44", "mailbox": "pf44@exemple.fr"},
                  content=content, avenant=None)
    signatures = render("signatures.html.j2", version={"number": 1, "content_hash": sha256(html)}, signatures=[
        {"label": p["label"], "signer_name": p["signatory_name"] or "Responsable", "at": when,
         "via_label": "signature électronique par lien personnel"} for p in parties])
    pdf = to_pdf([html], title="Convention individuelle d'accompagnement", created=when)
    signed_pdf = to_pdf([html, signatures], title="Convention individuelle d'accompagnement", created=when)
    return {"content": content, "html": html, "pdf": pdf, "signed_pdf": signed_pdf, "hash": sha256(html),
            "signed_hash": sha256(signed_pdf)}


def seed(db_url: str, *, journeys: int, tasks: int, platforms: int, caseload: int, past_views: int,
         rng: random.Random, out=print) -> dict[str, Any]:
    from sqlalchemy import insert
    from sqlmodel import Session

    from bench.harness import department_codes, password_hash
    from bench.inbox_latency import _task, _user
    from eaflow.store.accompaniment import Contact, EmploymentEpisode, IntensityMonth
    from eaflow.store.accounts import SavedView
    from eaflow.store.convention import (
        Convention,
        ConventionParty,
        ConventionVersion,
        Signature,
    )
    from eaflow.store.db import engine_for
    from eaflow.store.migrate import upgrade
    from eaflow.store.models import (
        AuditEvent,
        CounsellorAssignment,
        ExitProcedure,
        Journey,
        Person,
        Platform,
        SharedEvaluation,
        Task,
        User,
    )
    from eaflow.workflows import rules
    from eaflow.workflows.task_kinds import TASK_KINDS

    upgrade(db_url)
    engine = engine_for(db_url)
    now = datetime.now(UTC)
    today = now.date()
    hashed = password_hash()
    document = sample_convention(rng)

    # -- platforms, managers, counsellors
    followed = round(journeys * sum(share for state, share in STATES if state in FOLLOWED))
    per_platform = max(1, math.ceil(followed / caseload / platforms))
    platform_rows, user_rows = [], []
    managers: dict[str, str] = {}
    staff: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for code in department_codes(platforms):
        platform_id = f"pf-{code.lower()}"
        platform_rows.append({"id": platform_id, "department": code, "name": f"Plateforme emploi accompagné {code}",
                              "operator": f"Association Emploi {code}", "mailbox": f"plateforme{code.lower()}@bench.fr",
                              "created_at": now - timedelta(days=1200)})
        managers[platform_id] = f"u-m-{code.lower()}"
        row = _user(managers[platform_id], f"responsable{code}@bench.fr", "manager", platform_id, 0.0, hashed, now)
        row["display_name"] = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        user_rows.append(row)
        staff[platform_id] = []
        for n in range(per_platform):
            user_id = f"u-c-{code.lower()}-{n}"
            staff[platform_id].append(user_id)
            row = _user(user_id, f"c{n}.{code}@bench.fr", "counsellor", platform_id, 1.0, hashed, now)
            row["display_name"] = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            user_rows.append(row)
    for row in user_rows:
        names[row["id"]] = row["display_name"]

    # -- journeys and persons (the parents of everything else: inserted first)
    quarter_end = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) - timedelta(days=1)  # the last complete one
    quarter_start = date(quarter_end.year, quarter_end.month - 2, 1)
    journey_rows, person_rows = [], []
    slot: dict[str, int] = defaultdict(int)
    platform_ids = list(staff)
    for n in range(journeys):
        platform_id = platform_ids[n % len(platform_ids)]
        journey_id = f"j-{n:07d}"
        state = _pick(rng, STATES)
        channel, situation = _pick(rng, CHANNELS), _pick(rng, SITUATIONS)
        counsellor = None
        if state not in ("waiting_list", "refused"):
            team = staff[platform_id]
            counsellor = team[slot[platform_id] % len(team)]
            slot[platform_id] += 1
        admitted = {"waiting_list": None, "refused": None, "admitted": today - timedelta(days=rng.randint(0, 40)),
                    "convention": today - timedelta(days=rng.randint(30, 90)),
                    "accompaniment": today - timedelta(days=rng.randint(90, 1100)),
                    "veille": today - timedelta(days=rng.randint(200, 1100)),
                    "exited": today - timedelta(days=rng.randint(300, 1100))}[state]
        delay = rng.randint(10, 120)
        prescribed = admitted - timedelta(days=delay) if admitted else \
            today - timedelta(days=rng.randint(0, 400 if state == "refused" else 180))
        exited_on = exit_reason = refusal = None
        if state == "exited":  # after the signature (at most 65 days after admission); a third in the last quarter
            if rng.random() < 0.35:
                exited_on = quarter_start + timedelta(days=rng.randint(0, (quarter_end - quarter_start).days))
            else:
                exited_on = today - timedelta(days=rng.randint(1, min(450, (today - admitted).days - 95)))
            exit_reason = _pick(rng, EXIT_REASONS)
        elif state == "refused":
            refusal = [{"rule": _pick(rng, REFUSAL_RULES), "detail": "Prescription non retenue à l'examen."}]
        permanent = rng.random() < 0.2
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        urgent = rng.random() < 0.05
        created = _at(prescribed, rng)
        journey_rows.append({
            "id": journey_id, "platform_id": platform_id, "state": state, "channel": channel, "urgent": urgent,
            "situation": situation, "prescribed_on": prescribed, "prescriber_id": None, "counsellor_id": counsellor,
            "waiting_key": rules.r6_waiting_list_key(situation, prescribed) if state == "waiting_list" else None,
            "admitted_on": admitted, "admission_delay_days": delay if admitted else None,
            "rqth_until": None if permanent else today + timedelta(days=rng.randint(30, 1800)),
            "rqth_permanent": permanent, "boe_category": None,
            "cdaph_informed_on": prescribed + timedelta(days=5) if channel != "cdaph" and admitted else None,
            "cdaph_informed_how": "courrier" if channel != "cdaph" and admitted else None,
            "next_interview_due": today + timedelta(days=rng.randint(-10, 90)) if state == "accompaniment" else None,
            "last_contact_on": None, "veille_until": today + timedelta(days=rng.randint(10, 180)) if state == "veille" else None,
            "exited_on": exited_on, "exit_reason": exit_reason, "refusal": refusal,
            "created_at": created, "updated_at": now - timedelta(days=rng.uniform(0, 30)),
        })
        employer = None
        if situation == "employed":
            employer = {"name": rng.choice(EMPLOYERS), "kind": "private", "email": "rh@employeur.fr",
                        "contact_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"}
        representative = None
        if rng.random() < 0.08:
            representative = {"name": "Association tutélaire départementale", "email": "tutelles@atd.fr",
                              "phone": "02 40 00 00 00", "kind": rng.choice(("tutelle", "curatelle renforcée"))}
        person_rows.append({
            "journey_id": journey_id, "first_name": first, "last_name": last,
            "birth_date": date(rng.randint(1962, 2005), rng.randint(1, 12), rng.randint(1, 28)),
            "email": f"{_ascii(first)}.{_ascii(last)}{n % 97}@exemple.fr",
            "phone": "06 " + " ".join(f"{rng.randint(0, 99):02d}" for _ in range(4)),
            "legal_representative": representative, "employer": employer,
            "consent_given_on": prescribed, "consent_by": "person", "search_name": f"{first} {last}".lower(),
        })

    plan: dict[str, Any] = {"by_counsellor": defaultdict(list), "open_by_counsellor": defaultdict(list),
                            "persons": {}, "titles": {}}
    with Session(engine) as session:
        session.execute(insert(Platform), platform_rows)
        session.execute(insert(User), user_rows)
        for start in range(0, len(journey_rows), 5000):
            session.execute(insert(Journey), journey_rows[start:start + 5000])
            session.execute(insert(Person), person_rows[start:start + 5000])
        rows = Rows(session, [CounsellorAssignment, SharedEvaluation, Task, Contact, IntensityMonth, Convention,
                              ConventionVersion, ConventionParty, Signature, EmploymentEpisode, ExitProcedure,
                              AuditEvent, SavedView])

        def audit(journey_id, at, action, actor=None, detail=None, step_key=None, kind=None):
            rows.add(AuditEvent, {"journey_id": journey_id, "at": at, "actor_kind": kind or ("user" if actor else "system"),
                                  "actor_id": actor, "action": action, "detail": detail, "step_key": step_key})

        def task(journey, task_id, kind, assignee, created, due, done_by=None, done_at=None, outcome=None):
            spec = TASK_KINDS[kind]
            row = _task(task_id, journey["id"], journey["platform_id"], kind, spec.title, assignee,
                        spec.candidate_role, created, due)
            audit(journey["id"], created, "task_opened", detail={"task_id": task_id, "kind": kind, "assignee_id": assignee,
                                                                 "due_at": due.isoformat() if due else None},
                  step_key=f"{task_id}/opened")
            if done_by:
                row.update(status="done", completed_by=done_by, completed_at=done_at, outcome=outcome,
                           outcome_hash=secrets.token_hex(32))
                audit(journey["id"], done_at, "task_done", done_by,
                      {"task_id": task_id, "kind": kind, "outcome": outcome}, f"{task_id}/done")
            rows.add(Task, row)
            return row

        # -- open tasks first (they fix how many completed ones the total leaves)
        open_rows: list[tuple[dict, str, str | None, datetime, datetime]] = []
        for journey in journey_rows:
            state, counsellor, manager = journey["state"], journey["counsellor_id"], managers[journey["platform_id"]]
            admitted = journey["admitted_on"]
            wanted: list[tuple[str, date]] = []
            if state == "waiting_list":
                wanted.append(("assign_counsellor", journey["prescribed_on"] + timedelta(days=rng.randint(14, 60))))
                if journey["channel"] != "cdaph" and rng.random() < 0.5:
                    wanted.append(("notify_cdaph", journey["prescribed_on"] + timedelta(days=15)))
            elif state == "admitted":
                wanted.append(("shared_evaluation", admitted + timedelta(days=30)))
            elif state == "convention":
                wanted.append(("draft_convention", admitted + timedelta(days=rng.randint(45, 75))))
            elif state == "accompaniment":
                wanted.append(("plan_interview", journey["next_interview_due"]))
                for kind, share in (("renew_rights", 0.3), ("relaunch_attempt", 0.2), ("draft_avenant", 0.1),
                                    ("analyse_silence", 0.05), ("interview_overdue", 0.03)):
                    if rng.random() < share:
                        wanted.append((kind, today + timedelta(days=rng.randint(-20, 100))))
            elif state == "veille":
                if rng.random() < 0.5:
                    wanted.append(("veille_ending", journey["veille_until"]))
                if rng.random() < 0.3:
                    wanted.append(("renew_rights", today + timedelta(days=rng.randint(-20, 100))))
            for k, (kind, due_on) in enumerate(wanted):
                role = TASK_KINDS[kind].candidate_role
                if role == "manager":
                    assignee = manager if rng.random() < 0.1 else None
                else:
                    assignee = counsellor if rng.random() >= 0.02 else None  # 1 in 50 given back to the team
                due = _at(due_on, rng)
                created = min(now - timedelta(hours=1), due - timedelta(days=rng.randint(10, 30)))
                open_rows.append((journey, f"{journey['id']}-o{k}", kind, assignee, created, due))

        # -- the entry's completed tasks, then the accompaniment's until the total is reached
        entry: list[tuple] = []
        for journey in journey_rows:
            if journey["state"] in ("waiting_list", "refused"):
                continue
            manager, counsellor = managers[journey["platform_id"]], journey["counsellor_id"]
            prescribed, admitted = journey["prescribed_on"], journey["admitted_on"]
            if journey["channel"] != "cdaph":
                entry.append((journey, "notify_cdaph", manager, prescribed, prescribed + timedelta(days=5),
                              {"informed_on": (prescribed + timedelta(days=5)).isoformat(), "how": "courrier",
                               "reference": None}))
            entry.append((journey, "assign_counsellor", manager, prescribed, admitted, {"counsellor_id": counsellor}))
            if journey["state"] in ("convention", *SIGNED):
                evaluated = admitted + timedelta(days=rng.randint(7, 25))
                journey["_evaluated"] = evaluated
                entry.append((journey, "shared_evaluation", counsellor, admitted, evaluated,
                              {"evaluated_on": evaluated.isoformat(), "wishes": WISHES, "needs": NEEDS,
                               "resources": RESOURCES, "employer_expectations": None}))
            if journey["state"] in SIGNED:
                drafted = journey["_evaluated"] + timedelta(days=rng.randint(5, 20))
                signed = drafted + timedelta(days=rng.randint(3, 20))
                journey["_drafted"], journey["_signed"] = drafted, signed
                entry.append((journey, "draft_convention", counsellor, journey["_evaluated"], drafted,
                              document["content"]))
                entry.append((journey, "sign_convention", manager, drafted, signed, {"decision": "sign", "reason": None}))
            if journey["state"] == "exited":  # R18: proposed by the counsellor, approved by the manager
                journey["_proposed"] = journey["exited_on"] - timedelta(days=rng.randint(2, 20))
                entry.append((journey, "approve_exit", manager, journey["_proposed"], journey["exited_on"],
                              {"decision": "approve", "consultation": "Entretien avec la personne, qui confirme.",
                               "reason": None}))
        budget = tasks - len(open_rows) - len(entry)
        if budget < 0:
            out(f"  (--tasks {tasks} is less than the {len(open_rows) + len(entry)} open and entry tasks "
                f"{journeys} journeys need: the entry's completed tasks are cut)")
            rng.shuffle(entry)
            del entry[max(0, tasks - len(open_rows)):]
            budget = 0
        accompanied = [j for j in journey_rows if j["state"] in SIGNED]
        weights = [max(1, ((j["exited_on"] or today) - j["_signed"]).days) for j in accompanied]
        later: dict[str, int] = defaultdict(int)
        if accompanied and budget:
            for journey in rng.choices(accompanied, weights=weights, k=budget):
                later[journey["id"]] += 1

        for journey, task_id, kind, assignee, created, due in open_rows:
            row = task(journey, task_id, kind, assignee, created, due)
            if assignee and TASK_KINDS[kind].candidate_role == "counsellor":
                plan["open_by_counsellor"][assignee].append((kind, task_id))
                plan["titles"][task_id] = row["title"]
        for k, (journey, kind, who, opened_on, done_on, outcome) in enumerate(entry):
            task(journey, f"{journey['id']}-e{k}", kind, who, _at(opened_on, rng), _at(opened_on + timedelta(days=30), rng),
                 who, _at(done_on, rng), outcome)

        # -- per journey: assignment, evaluation, contacts, the accompaniment's tasks, convention, jobs, history
        contacts_total = 0
        for journey in journey_rows:
            journey_id, state, counsellor = journey["id"], journey["state"], journey["counsellor_id"]
            manager = managers[journey["platform_id"]]
            prescribed_at = journey["created_at"]
            audit(journey_id, prescribed_at, "prescription_received",
                  detail={"channel": journey["channel"], "urgent": journey["urgent"], "situation": journey["situation"]},
                  step_key=f"{journey_id}/prescription")
            if state == "refused":
                audit(journey_id, prescribed_at + timedelta(minutes=1), "intake_refused",
                      detail={"refusal": journey["refusal"], "state": "refused"}, step_key=f"{journey_id}/intake")
                continue
            audit(journey_id, prescribed_at + timedelta(minutes=1), "intake_accepted", step_key=f"{journey_id}/intake")
            audit(journey_id, prescribed_at + timedelta(minutes=2), "waiting_list_entered",
                  detail={"state": "waiting_list"}, step_key=f"{journey_id}/waiting-list")
            if counsellor is None:
                continue
            if state != "exited":  # the files a counsellor opens (/parcours/{id})
                plan["by_counsellor"][counsellor].append((journey_id, state))
            person = person_rows[int(journey_id[2:])]
            plan["persons"][journey_id] = f"{person['first_name']} {person['last_name']}"
            admitted = journey["admitted_on"]
            admitted_at = _at(admitted, rng)
            rows.add(CounsellorAssignment, {"journey_id": journey_id, "counsellor_id": counsellor, "started_at": admitted_at,
                                            "ended_at": None, "reason": "admission", "assigned_by": manager,
                                            "step_key": f"{journey_id}/assignment/1"})
            audit(journey_id, admitted_at, "counsellor_assigned", manager, {"counsellor_id": counsellor, "rule": "R7"},
                  f"{journey_id}/counsellor/1")
            audit(journey_id, admitted_at, "admitted", manager, {"state": "admitted"}, f"{journey_id}/admitted")
            if "_evaluated" in journey:
                rows.add(SharedEvaluation, {"journey_id": journey_id, "evaluated_on": journey["_evaluated"], "wishes": WISHES,
                                            "needs": NEEDS, "resources": RESOURCES, "employer_expectations": None,
                                            "recorded_by": counsellor, "recorded_at": _at(journey["_evaluated"], rng)})
                audit(journey_id, _at(journey["_evaluated"], rng), "shared_evaluation_recorded", counsellor, {"rule": "R9"},
                      f"{journey_id}/shared-evaluation")
                audit(journey_id, _at(journey["_evaluated"], rng), "convention_started", detail={"state": "convention"},
                      step_key=f"{journey_id}/convention-started")

            # contacts: about one a month since admission, some attempts; interviews recorded by their task
            contacts: list[dict] = []

            def contact(day: date, *, interview=False, task_id=None, journey_id=journey_id, contacts=contacts,
                        counsellor=counsellor):
                channel = "in_person" if interview else rng.choice(("phone", "phone", "in_person", "mail", "sms", "video"))
                place = rng.choice(("service", "workplace", "home")) if channel == "in_person" else "other"
                participants = rng.choice(("person", "person", "both")) if interview or channel != "in_person" \
                    else rng.choice(("person", "employer", "both"))
                reached = interview or rng.random() < 0.88
                minutes = 0 if not reached else (rng.randint(45, 120) if channel == "in_person" else rng.randint(10, 40))
                contact_id = f"ct-{journey_id}-{len(contacts)}"
                row = {"id": contact_id, "journey_id": journey_id, "occurred_on": day, "duration_minutes": minutes,
                       "place": place, "channel": channel, "participants": participants, "reached": reached,
                       "interview": interview, "note": rng.choice(NOTES) if rng.random() < 0.6 else None,
                       "task_id": task_id, "recorded_by": counsellor, "recorded_at": _at(day, rng),
                       "updated_by": None, "updated_at": None, "deleted_by": None, "deleted_at": None}
                contacts.append(row)
                fields = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()
                          if k in ("occurred_on", "duration_minutes", "place", "channel", "participants", "reached",
                                   "interview")}
                audit(journey_id, row["recorded_at"], "contact_recorded", counsellor,
                      {"rule": "R13", "contact_id": contact_id, "fields": {**fields, "note": bool(row["note"])},
                       **({"task_id": task_id} if task_id else {})}, f"contact/{contact_id}/recorded")

            last_day = journey["exited_on"] or today  # contacts, tasks, jobs and views stop at the exit
            days = (last_day - admitted).days
            for _ in range(max(1, round(days / 30 * rng.uniform(0.6, 1.4)))):
                contact(admitted + timedelta(days=rng.randint(0, days)))

            if state in SIGNED:
                signed, signed_at = journey["_signed"], _at(journey["_signed"], rng)
                span = max(1, (last_day - signed).days)
                for k in range(later.get(journey_id, 0)):
                    kind = _pick(rng, (("plan_interview", 0.7), ("relaunch_attempt", 0.15), ("renew_rights", 0.15)))
                    done_on = signed + timedelta(days=rng.randint(1, span))
                    task_id = f"{journey_id}-d{k}"
                    if kind == "plan_interview":
                        outcome = {"occurred_on": done_on.isoformat(), "duration_minutes": 60, "place": "service",
                                   "channel": "in_person", "participants": "person", "reached": True, "interview": True,
                                   "note": None}
                        contact(done_on, interview=True, task_id=task_id)
                    elif kind == "relaunch_attempt":
                        outcome = {"occurred_on": done_on.isoformat(), "channel": "phone", "reached": False,
                                   "duration_minutes": 0, "note": None}
                    else:
                        outcome = {"filed_on": done_on.isoformat(), "note": None}
                    task(journey, task_id, kind, counsellor, _at(done_on - timedelta(days=14), rng),
                         _at(done_on + timedelta(days=7), rng), counsellor, _at(done_on, rng), outcome)
                # the signed convention: one version, its parties, their accepted signatures
                convention_id = f"{journey_id}-cv"
                version_id = f"{convention_id}-v1"
                rows.add(Convention, {"id": convention_id, "journey_id": journey_id, "status": "signed",
                                      "current_version_id": version_id, "signed_version_id": version_id,
                                      "signed_on": signed, "created_at": _at(journey["_drafted"], rng), "updated_at": signed_at})
                rows.add(ConventionVersion, {
                    "id": version_id, "convention_id": convention_id, "number": 1, "kind": "initial", "status": "signed",
                    "content": document["content"], "html": document["html"], "pdf": document["pdf"],
                    "content_hash": document["hash"], "drafted_by": counsellor, "created_at": _at(journey["_drafted"], rng),
                    "superseded_at": None, "signed_at": signed_at, "signed_pdf": document["signed_pdf"],
                    "signed_pdf_hash": document["signed_hash"]})
                audit(journey_id, _at(journey["_drafted"], rng), "convention_drafted", counsellor,
                      {"rule": "R10", "version": 1, "content_hash": document["hash"]}, f"{journey_id}/convention/v1/drafted")
                roles = ["platform", "person"] + (["employer"] if journey["situation"] == "employed" else [])
                for role in roles:
                    party_id = f"{version_id}-{role}"
                    signer = names[manager] if role == "platform" else plan["persons"][journey_id] if role == "person" \
                        else "Paul Roche"
                    rows.add(ConventionParty, {
                        "id": party_id, "version_id": version_id, "convention_id": convention_id, "role": role,
                        "label": {"platform": "la plateforme", "person": "la personne accompagnée",
                                  "employer": "l'employeur"}[role],
                        "name": signer, "signatory_name": signer, "signatory_quality": None, "email": "x@exemple.fr",
                        "signs_by": "task" if role == "platform" else "link", "signed_at": signed_at, "refused_at": None})
                    rows.add(Signature, {
                        "id": f"sg-{party_id}", "convention_id": convention_id, "version_id": version_id,
                        "party_id": party_id, "decision": "signed", "status": "accepted", "reason": None,
                        "signer_name": signer, "via": "task" if role == "platform" else "link",
                        "user_id": manager if role == "platform" else None, "token_id": None,
                        "ip": "192.0.2.10", "user_agent": "Mozilla/5.0", "at": signed_at})
                    audit(journey_id, signed_at, "convention_signed_by_party", manager if role == "platform" else None,
                          {"rule": "R10", "role": role}, f"{journey_id}/convention/v1/{role}",
                          kind="user" if role == "platform" else "link")
                audit(journey_id, signed_at, "convention_signed", detail={"state": "accompaniment"},
                      step_key=f"{journey_id}/convention/v1/signed")
                if state == "veille":
                    audit(journey_id, _at(today - timedelta(days=rng.randint(5, 90)), rng), "veille_started", counsellor,
                          {"rule": "R14", "state": "veille"}, f"{journey_id}/veille/1")
                if rng.random() < 0.35:  # a job during the accompaniment (R16), a third of them over
                    started = signed + timedelta(days=rng.randint(0, span))
                    ended = started + timedelta(days=rng.randint(30, 300)) if rng.random() < 0.3 else None
                    if ended and ended > last_day:
                        ended = None
                    rows.add(EmploymentEpisode, {
                        "id": f"em-{journey_id}", "journey_id": journey_id, "employer_name": rng.choice(EMPLOYERS),
                        "employer_type": rng.choice(("private", "private", "public")),
                        "employer_siret": None, "contract_type": rng.choice(("cdi", "cdd", "interim", "alternance")),
                        "working_hours": "24 h / semaine", "started_on": started, "ended_on": ended,
                        "end_reason": "end_of_fixed_term" if ended else None, "end_note": None,
                        "opened_by": counsellor, "opened_at": _at(started, rng),
                        "closed_by": counsellor if ended else None, "closed_at": _at(ended, rng) if ended else None})
                    audit(journey_id, _at(started, rng), "employment_opened", counsellor, {"rule": "R16"})
                if state == "exited":  # R18: the procedure, proposed then approved; the journey exits
                    reason, proposed_at, exited_at = journey["exit_reason"], _at(journey["_proposed"], rng), \
                        _at(journey["exited_on"], rng)
                    detail = {"rule": "R15", "reason": reason, "label": rules.EXIT_REASONS[reason]}
                    rows.add(ExitProcedure, {
                        "id": f"{journey_id}-x1", "journey_id": journey_id, "reason": reason, "status": "approved",
                        "opened_at": proposed_at, "opened_by": counsellor, "closed_at": exited_at, "closed_by": manager,
                        "decision_reason": None, "detail": detail})
                    audit(journey_id, proposed_at, "exit_proposed", counsellor, {**detail, "state": "exit_proposed"},
                          f"{journey_id}/exit/1")
                    audit(journey_id, exited_at, "journey_exited", manager,
                          {**detail, "rule": "R18", "state": "exited"}, f"{journey_id}/exit/closed")
            for row in contacts:
                rows.add(Contact, row)
            months: dict[date, list[int]] = defaultdict(lambda: [0, 0])  # R11, R13: as recording them leaves them
            for row in contacts:
                total = months[row["occurred_on"].replace(day=1)]
                total[0] += row["duration_minutes"] if row["reached"] else 0
                total[1] += row["duration_minutes"] if row["reached"] and row["place"] == "workplace" else 0
            for month, (minutes, workplace) in months.items():
                rows.add(IntensityMonth, {"journey_id": journey_id, "month": month, "minutes": minutes,
                                          "workplace_minutes": workplace, "level": rules.r11_intensity_level(minutes),
                                          "updated_at": now})
            contacts_total += len(contacts)
            reached = [c["occurred_on"] for c in contacts if c["reached"]]
            journey["last_contact_on"] = max(reached) if reached else None
            # earlier views of the file by its counsellor (R22: each traced, five events a view)
            viewed_until = _at(journey["exited_on"], rng) if journey["exited_on"] else now
            for _ in range(past_views):
                seen = viewed_until - timedelta(days=rng.uniform(0, min(90, max(1, days))))
                for action in READ_ACTIONS:
                    audit(journey_id, seen, action, counsellor)

        for counsellor in list(plan["by_counsellor"])[::3]:  # a third of them saved a view or two
            for name, filters in (("En retard", {"kind": "", "due_before": today.isoformat(), "person": ""}),
                                  ("Entretiens", {"kind": "plan_interview", "due_before": "", "person": ""})):
                rows.add(SavedView, {"user_id": counsellor, "name": name, "filters": filters, "created_at": now})
        rows.flush()
        from sqlalchemy import update

        session.execute(update(Journey), [{"id": j["id"], "last_contact_on": j["last_contact_on"]}  # by primary key
                                          for j in journey_rows if j["last_contact_on"]])
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    counts = dict(rows.counts)
    counts.update(journey=len(journey_rows), person=len(person_rows), user=len(user_rows), platform=len(platform_rows))
    plan["counts"] = counts
    plan["counsellors"] = [u["id"] for u in user_rows if u["role"] == "counsellor"]
    plan["managers"] = list(managers.values())
    return plan


def managers_data(db_url: str, plan: dict) -> list[str]:
    """What the managers' pages have to show, for one platform: the waiting list, the team's late work,
    and the indicators of the last complete quarter (through eaflow.indicators, as the page reads them)."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from eaflow import indicators
    from eaflow.store.db import engine_for
    from eaflow.store.models import Journey, Task, User

    now = datetime.now(UTC)
    period = indicators.last_complete_quarter(now.date())
    with Session(engine_for(db_url)) as session:
        platform = session.get(User, plan["managers"][0]).platform_id
        states = dict(session.exec(select(Journey.state, func.count()).where(Journey.platform_id == platform)
                                   .group_by(Journey.state)).all())
        overdue = session.exec(select(func.count()).select_from(Task).where(
            Task.platform_id == platform, Task.status == "open", Task.due_at < now,
            Task.assignee_id.is_not(None))).one()
        late = session.exec(select(func.count()).select_from(Journey).where(
            Journey.platform_id == platform, Journey.next_interview_due < now.date(),
            Journey.state == "accompaniment")).one()
        result = indicators.report(session, platform, period)
    activity, intensity = result["activity"], result["distance_from_employment"]["intensity"]
    employment = result["employment"]
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    reasons = ", ".join(f"{n} {reason}" for reason, n in activity["exits"]["by_reason"].items() if n)
    levels = ", ".join(f"{n} {level}" for level, n in intensity["person_months_by_level"].items())
    pages = (f"platform {platform}: {sum(states.values())} journeys ({counts}); {overdue} overdue open tasks "
             f"assigned, {late} quarterly interviews past due")
    report = (f"its indicators for {period.start} – {period.end}: {activity['persons_accompanied']} accompanied, "
              f"{activity['new_entries']['total']} admissions, {activity['exits']['total']} exits ({reasons}), "
              f"{activity['prescriptions']['received']} prescriptions ({activity['prescriptions']['refused']} "
              f"refused), {activity['waiting_list_at_end']} waiting at the end, {intensity['person_months']} "
              f"person-months ({levels}), {employment['persons_in_employment']['at_end']} in employment at the end")
    return [pages, report]


def server_settings(db_url: str) -> str:
    """The server's version and the settings that move these figures."""
    from eaflow.store.db import engine_for

    with engine_for(db_url).connect() as conn:
        shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                 for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")}
    return ", ".join(f"{name} {value}" for name, value in shown.items())


def open_web_sessions(db_url: str, user_ids: list[str], lifetime: timedelta = timedelta(hours=12)) -> dict[str, str]:
    """Web sessions (`AccessToken` kind "web", last used now) written directly, as a sign-in would
    leave them (signing in through argon2, user by user, would take minutes)."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from eaflow.services.sessions import token_hash
    from eaflow.store.db import engine_for
    from eaflow.store.models import AccessToken

    now = datetime.now(UTC)
    tokens = {user_id: secrets.token_urlsafe(32) for user_id in user_ids}
    with Session(engine_for(db_url)) as session:
        session.execute(insert(AccessToken), [
            {"token_hash": token_hash(token), "user_id": user_id, "kind": "web", "created_at": now,
             "expires_at": now + lifetime, "last_used_at": now} for user_id, token in tokens.items()])
        session.commit()
    return tokens


# ------------------------------------------------------------------------------ measuring
def requests_plan(plan: dict, tokens: dict[str, str], count: int, rng: random.Random) -> dict[str, list[dict]]:
    """`count` requests of each page: (path, who, the heading the page must hold, a label to group by).
    The counsellors' pages are asked by the counsellors signed in, the managers' by the managers."""
    from markupsafe import escape

    managers = [user for user in tokens if user in set(plan["managers"])]
    users = [user for user in tokens if user not in set(managers)]
    pages: dict[str, list[dict]] = {"/": [], "/taches/{id}": [], "/parcours/{id}": [], "/liste-attente": [],
                                    "/equipe": [], "/indicateurs": []}
    by_kind: dict[str, list[tuple[str, str]]] = defaultdict(list)  # kind -> (user, task id)
    for user in users:
        for kind, task_id in plan["open_by_counsellor"][user]:
            by_kind[kind].append((user, task_id))
    kinds = [kind for kind in TASK_PAGE_KINDS if by_kind[kind]]
    if not {"shared_evaluation", "plan_interview"} <= set(kinds):
        raise RuntimeError(f"the counsellors drawn have no open task of some kind: {sorted(by_kind)}")
    for n in range(count):
        user = rng.choice(users)
        pages["/"].append({"path": "/", "user": user, "heading": "<h1>Mes tâches</h1>", "group": None})
        kind = kinds[n % len(kinds)]
        owner, task_id = rng.choice(by_kind[kind])
        pages["/taches/{id}"].append({"path": f"/taches/{task_id}", "user": owner, "group": kind,
                                      "heading": f"<h1>{escape(plan['titles'][task_id])}</h1>"})
        owner = rng.choice([u for u in users if plan["by_counsellor"][u]])
        journey_id, state = rng.choice(plan["by_counsellor"][owner])
        pages["/parcours/{id}"].append({"path": f"/parcours/{journey_id}", "user": owner, "group": state,
                                        "heading": f"<h1>{escape(plan['persons'][journey_id])}</h1>"})
        if managers:  # the managers' pages, each as a manager drawn from those signed in
            pages["/liste-attente"].append({"path": "/liste-attente", "user": rng.choice(managers), "group": None,
                                            "heading": "<h1>Liste d'attente</h1>"})
            pages["/equipe"].append({"path": "/equipe", "user": rng.choice(managers), "group": None,
                                     "heading": "<h1>Équipe</h1>"})
            pages["/indicateurs"].append({"path": "/indicateurs", "user": rng.choice(managers), "group": None,
                                          "heading": "<h1>Indicateurs"})  # the last complete quarter (default)
    return {label: requests for label, requests in pages.items() if requests}


class SqlCounter:
    """Every statement any engine sends (the app has its own engine), with its time, while active."""

    def __init__(self):
        self.active = False
        self.statements: list[tuple[str, float, str | None]] = []  # (sql, seconds, the service calling)
        self.local = threading.local()

    def __enter__(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self._before)
        event.remove(Engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            elapsed = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
            stack = getattr(self.local, "stack", None)
            self.statements.append((statement, elapsed, stack[-1] if stack else None))


class FullCollections:
    """The full (generation 2) garbage collections of this process while active, and their pauses."""

    def __init__(self):
        self.count, self.seconds, self._started = 0, 0.0, None

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.count += 1
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def __enter__(self) -> Self:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


async def measure(db_url: str, data_dir: Path, pages: dict[str, list[dict]], tokens: dict[str, str], *,
                  warmup: int, profile: int, rng: random.Random, freeze: bool = False) -> dict[str, Any]:
    import httpx

    from eaflow.app import create_app
    from eaflow.settings import Settings

    settings = Settings(database_url=db_url, data_dir=data_dir, temporal_address="127.0.0.1:1")
    app = create_app(settings)  # its lifespan (which connects to Temporal) is not run by ASGITransport
    transport = httpx.ASGITransport(app=app)
    results: dict[str, Any] = {label: {"timings": [], "groups": defaultdict(list), "gc": []} for label in pages}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

        async def one(request: dict) -> float:
            headers = {"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={tokens[request['user']]}"}
            started = time.perf_counter()
            response = await http.get(request["path"], headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or request["heading"] not in response.text:
                raise RuntimeError(f"GET {request['path']} as {request['user']}: {response.status_code}, "
                                   f"heading {request['heading']!r} {'missing' if response.status_code == 200 else ''}\n"
                                   f"{response.headers.get('location', '')}{response.text[:600]}")
            return elapsed

        for label, requests in pages.items():  # warm-up: first connections, templates, caches
            for request in rng.sample(requests, min(warmup, len(requests))):
                await one(request)
        if freeze:  # experiment: what an API process could do once started
            gc.collect()
            gc.freeze()
        with FullCollections() as collections:
            for batch in zip(*pages.values()):  # the three pages in turn, one request at a time
                for label, request in zip(pages, batch):
                    before = collections.seconds
                    elapsed = await one(request)
                    results[label]["timings"].append(elapsed)
                    results[label]["groups"][request["group"]].append(elapsed)
                    if collections.seconds > before:  # a full garbage collection ran during this request
                        results[label]["gc"].append((elapsed, collections.seconds - before))

        with SqlCounter() as counter:  # the statements of one request of each page
            for label, requests in pages.items():
                counter.statements.clear()
                counter.active = True
                await one(requests[0])
                counter.active = False
                results[label]["statements"] = [(" ".join(s.split()), t) for s, t, _ in counter.statements]
        if profile:
            for label, requests in pages.items():
                results[label]["profile"] = await breakdown(one, requests[:profile])
    return results


# ------------------------------------------------------------------------------ profile
def _services():
    """The functions the pages call, by where the pages look them up (module, attribute); none of them
    calls another of the list (so that the parts of a page add up)."""
    import eaflow.web.inbox as web_inbox
    import eaflow.web.indicators as web_indicators
    import eaflow.web.journey as web_journey
    import eaflow.web.managers as web_managers
    import eaflow.web.tasks as web_tasks
    from eaflow import indicators
    from eaflow.services import (
        contacts,
        convention,
        employment,
        inbox,
        journeys,
        saved_views,
        sessions,
        team,
    )

    return [
        (sessions, "user_for_token"), (sessions, "csrf_token"),
        (inbox, "list_tasks"), (inbox, "count_by_kind"), (saved_views, "saved_views"), (inbox, "get_task"),
        (journeys, "read_journey"), (journeys, "journey_history"), (convention, "read_convention"),
        (contacts, "list_contacts"), (contacts, "intensity"), (employment, "list_employment"),
        (web_journey, "offered_actions"), (web_journey, "intensity_chart"), (web_journey, "describe_event"),
        (web_inbox, "render_page"), (web_tasks, "render_page"), (web_journey, "render_page"),
        (team, "waiting_list"), (team, "assignable"), (team, "team"),
        (indicators, "load"), (indicators, "compute"), (web_indicators, "_charts"), (web_indicators, "_groups"),
        (web_managers, "render_page"), (web_indicators, "render_page"),
    ]


async def breakdown(one, requests: list[dict]) -> dict[str, Any]:
    """Each request again, with the services the pages call timed (wall time, and the SQL they send)."""
    import functools

    spent: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, int] = defaultdict(int)
    patched = []
    with SqlCounter() as counter:
        for module, name in _services():
            original = getattr(module, name)
            label = "render_page (Jinja2)" if name == "render_page" else f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

            def wrapper(*args, __original=original, __label=label, **kwargs):
                stack = getattr(counter.local, "stack", None)
                if stack is None:
                    stack = counter.local.stack = []
                stack.append(__label)
                started = time.perf_counter()
                try:
                    return __original(*args, **kwargs)
                finally:
                    stack.pop()
                    spent[__label].append(time.perf_counter() - started)
                    calls[__label] += 1

            setattr(module, name, functools.wraps(original)(wrapper))
            patched.append((module, name, original))
        totals = []
        try:
            counter.active = True
            for request in requests:
                totals.append(await one(request))
        finally:
            counter.active = False
            for module, name, original in patched:
                setattr(module, name, original)
    n = len(requests)
    sql_by: dict[str, list[float]] = defaultdict(list)
    for _, seconds, label in counter.statements:
        sql_by[label or "(outside the services)"].append(seconds)
    return {"n": n, "total_ms": statistics.fmean(totals) * 1000,
            "parts": {label: {"ms": sum(v) / n * 1000, "calls": calls[label] / n,
                              "sql_ms": sum(sql_by.get(label, [])) / n * 1000,
                              "statements": len(sql_by.get(label, [])) / n}
                      for label, v in spent.items() if calls[label]},
            "sql_outside_ms": sum(sql_by.get("(outside the services)", [])) / n * 1000,
            "statements_outside": len(sql_by.get("(outside the services)", [])) / n}


# ------------------------------------------------------------------------------ main
def report(results: dict, out, verbose: bool) -> dict[str, float]:
    from bench.harness import latency_line, percentile

    p95s = {}
    for label, result in results.items():
        ms = [t * 1000 for t in result["timings"]]
        p95s[label] = percentile(ms, 95)
        out("  " + latency_line(f"GET {label}", result["timings"]) + f"  max {max(ms):7.2f} ms")
        if len(result["groups"]) > 1:
            for group, timings in sorted(result["groups"].items()):
                g = [t * 1000 for t in timings]
                out(f"      {group:<20} n={len(g):<4} p50 {percentile(g, 50):7.2f} ms  p95 {percentile(g, 95):7.2f} ms")
        if result["gc"]:
            pauses = [p * 1000 for _, p in result["gc"]]
            others = [t * 1000 for t in result["timings"]]
            for elapsed, _ in result["gc"]:
                others.remove(elapsed * 1000)
            out(f"      {len(pauses)} request{'s' if len(pauses) > 1 else ''} held a full garbage collection (pause mean {statistics.fmean(pauses):.0f} ms, "
                f"max {max(pauses):.0f} ms); p95 of the others {percentile(others, 95):.2f} ms")
        statements = result["statements"]
        out(f"      SQL statements in one request: {len(statements)} ({sum(t for _, t in statements) * 1000:.1f} ms "
            f"spent in them)")
        if verbose:
            for statement, seconds in statements:
                out(f"        {seconds * 1000:6.2f} ms  {statement[:150]}")
    for label, result in results.items():
        if "profile" not in result:
            continue
        prof = result["profile"]
        out(f"\n  breakdown of GET {label} (mean of {prof['n']} more requests, {prof['total_ms']:.1f} ms each):")
        out(f"      {'call':<32} {'ms':>7} {'calls':>6} {'SQL ms':>7} {'stmts':>6}")
        for name, part in sorted(prof["parts"].items(), key=lambda item: -item[1]["ms"]):
            out(f"      {name:<32} {part['ms']:7.2f} {part['calls']:6.1f} {part['sql_ms']:7.2f} {part['statements']:6.1f}")
        inside = sum(p["ms"] for p in prof["parts"].values())
        out(f"      {'rest (FastAPI, threads, ASGI)':<32} {prof['total_ms'] - inside:7.2f}        "
            f"{prof['sql_outside_ms']:7.2f} {prof['statements_outside']:6.1f}")
    return p95s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks in all, open and done (default 100000)")
    parser.add_argument("--platforms", type=int, default=10)
    parser.add_argument("--caseload", type=int, default=20, help="persons per counsellor (R7: 20 per FTE)")
    parser.add_argument("--past-views", type=int, default=10,
                        help="earlier views of each file by its counsellor (5 read events each, default 10)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests of each page")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests of each page")
    parser.add_argument("--users", type=int, default=60, help="counsellors signed in, who send the requests")
    parser.add_argument("--profile", type=int, nargs="?", const=100, default=0, metavar="N",
                        help="time each page's service calls over N more requests (default 100)")
    parser.add_argument("--server", choices=("test", "machine"), default="test",
                        help="test: tests/pg.py's PostgresServer (fsync off; BenchPostgres when it is missing); "
                             "machine: BenchPostgres on the machine's initdb/pg_ctl, default settings (fsync on)")
    parser.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                        help="gc.freeze() after the warm-up, as the API process does (eaflow.app.app_from_env): "
                             "the app's objects are no longer scanned by each full garbage collection; "
                             "--no-gc-freeze measures without it")
    parser.add_argument("--seed", type=int, default=44)
    parser.add_argument("--verbose", "-v", action="store_true", help="print the SQL of one request of each page")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 journeys, 10,000 tasks, 50 requests (< 30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.journeys, args.tasks, args.requests, args.warmup, args.users = 1000, 10_000, 50, 5, 20
        args.profile = min(args.profile, 20)

    from bench.harness import BenchPostgres, Timer, machine, postgres_server, workdir

    print(f"machine: {machine()}")
    print(f"command: python -m bench.pages {' '.join(sys.argv[1:] if argv is None else argv)}")
    print("client: httpx ASGITransport on the FastAPI app in this process, one request at a time; "
          "server time = wall time of one request through it")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print("PostgreSQL: PENDING, no driver in the venv (psycopg[binary]): nothing measured")
        return 1
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, _frame):  # a SIGTERM stops PostgreSQL too (the finally blocks run)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    rng = random.Random(args.seed)
    try:
        with workdir("pages", keep=args.keep) as work:
            if args.server == "machine":
                server, how = BenchPostgres(), "bench/harness.py BenchPostgres (the machine's PostgreSQL, its defaults: fsync on)"
            else:
                server, how = postgres_server()
                how += " (test settings: fsync off)" if "PostgresServer" in how else ""
            print(f"PostgreSQL server: {how}")
            server.start()
            try:
                db_url = server.new_database()
                print(f"  {server_settings(db_url)}")
                timer = Timer()
                plan = seed(db_url, journeys=args.journeys, tasks=args.tasks, platforms=args.platforms,
                            caseload=args.caseload, past_views=args.past_views, rng=rng)
                counts = plan["counts"]
                open_mine = [len(plan["open_by_counsellor"][c]) for c in plan["counsellors"]]
                print(f"seeded in {timer.elapsed:.1f} s: {counts['platform']} platforms, {len(plan['counsellors'])} "
                      f"counsellors, {counts['journey']} journeys and persons, {counts['task']} tasks, "
                      f"{counts['contact']} contacts, {counts['convention']} signed conventions, "
                      f"{counts['employment_episode']} jobs, {counts['auditevent']} audit events")
                print(f"  a counsellor's own open tasks: mean {statistics.fmean(open_mine):.1f}, "
                      f"max {max(open_mine)}; persons per counsellor: "
                      f"{statistics.fmean(len(plan['by_counsellor'][c]) for c in plan['counsellors']):.1f}")
                for line in managers_data(db_url, plan):
                    print(f"  {line}")
                users = rng.sample(plan["counsellors"], min(args.users, len(plan["counsellors"])))
                tokens = open_web_sessions(db_url, users + plan["managers"])
                pages = requests_plan(plan, tokens, args.requests, rng)
                timer = Timer()
                results = asyncio.run(measure(db_url, work, pages, tokens, warmup=args.warmup,
                                              profile=args.profile, rng=rng, freeze=args.gc_freeze))
                print(f"\nPostgreSQL, {args.requests} requests of each page ({len(users)} counsellors and "
                      f"{len(plan['managers'])} managers signed in, {timer.elapsed:.1f} s):")
                p95s = report(results, print, args.verbose)
            finally:
                getattr(server, "close", server.stop)()  # PostgresServer.close() also deletes its files
    except KeyboardInterrupt:
        print("interrupted: PostgreSQL stopped, working directory removed")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print()
    missed = []
    for label, p95 in p95s.items():
        target = TARGETS_MS.get(label, TARGET_P95_MS)
        if p95 >= target:
            missed.append(label)
        print(f"p95 GET {label:<16} {p95:7.2f} ms  target < {target:.0f} ms: {'met' if p95 < target else 'NOT met'}")
    print(f"targets: {'met on every page' if not missed else 'NOT met on ' + ', '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
