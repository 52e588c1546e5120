"""R22: "data kept no longer than needed after exit". Once a closed file has been kept the policy's
`[personal_data] retention_after_exit` after its exit (or its transfer to another platform), its
personal data is anonymised: what names or describes the person goes, what the indicators count
(R20) stays, naming no one.

Which journeys: those exited or transferred at least the retention ago (`exited_on`), and the
prescriptions refused at intake (R1, R3, R5) the retention after their refusal, not yet anonymised.
Any other journey is never touched: one still open, one closed more recently.

What goes (`deletions` lists it, in French, for `eaflow personal-data purge --dry-run`):
- the identity: names, birth date (its year is kept), e-mail, phone, legal representative, the
  employer's contact details (its type, which the indicators read, is kept), who gave the consent;
- the journey's free texts (subsidiarity statement, other support, how the CDAPH was told, the
  refusals' wording: the rule ids stay);
- the contacts' notes; the shared evaluation's four texts (its date stays);
- the convention's documents (content, HTML, PDF, signed PDF; the hashes, numbers, dates stay), the
  parties' names and e-mails, the signatures' names, addresses and browsers, the paper scans;
- the tasks' free texts (context and outcome: codes, numbers, booleans and dates stay);
- the exit dossiers' free texts (same);
- the employers' names of the employment episodes, replaced by "Employeur 1", "Employeur 2"… so
  that two episodes at one employer stay at one employer (R20's time in the same firm); the
  SIRET and the note of the end go, the type, contract, dates and end reason stay;
- the outbox's recipients and subjects.

What stays: the journey's states timeline (the audit rows, which are append-only: never rewritten),
its dates, codes and counts, the intensity months, the stored report snapshots. The journey is
marked `anonymised_at`, and one audit row says so, naming no one; its step key makes a second run
(a retried activity, the schedule and the command at once) a no-op.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import and_, delete, or_
from sqlmodel import Session, select

from eaflow.durations import Duration
from eaflow.employment import same_employer_key
from eaflow.policy import Policy
from eaflow.store.accompaniment import Contact, EmploymentEpisode
from eaflow.store.contacts import lock_journey
from eaflow.store.convention import (
    Convention,
    ConventionParty,
    ConventionVersion,
    Signature,
    SignatureScan,
)
from eaflow.store.models import (
    AuditEvent, ExitProcedure, Journey, MailOutbox, Person, SharedEvaluation, Task, aware,
)

# Closed files whose data the purge takes, once the retention has run from `exited_on`.
PURGED_STATES = ("exited", "transferred")
REFUSED = "refused"  # a prescription refused at intake (R1, R3, R5): its retention runs from the refusal
ACTION = "personal_data_anonymised"
# What a free text that must stay non-empty becomes (a statement R5 asks for was made: it stays made).
ANONYMISED = "(anonymisé)"
# The keys of the employer's details that describe it without naming it (the indicators' categories).
EMPLOYER_KEPT = ("kind", "sector", "naf_section", "size", "size_band")
# In tasks' and exit dossiers' JSON: a key that names free text goes whatever its value looks like.
_FREE_TEXT_KEY = re.compile(r"name|note|mail|phone|contact|address|adresse|comment|reason|detail|message|"
                            r"text|why|justification|wishes|needs|resources|expectation|signatory|siret|how",
                            re.IGNORECASE)
# A value kept in those JSON: a code of a closed list ("cdi", "in_person", "R15") or an ISO date.
_CODE = re.compile(r"^(?:[a-z0-9_]{1,40}|R\d{1,2}|\d{4}-\d{2}-\d{2}(?:[T ][0-9:.+Z-]*)?)$")


def retention(policy: Policy) -> Duration:
    return Duration.parse(policy.personal_data.retention_after_exit)


def closed_on(journey: Journey) -> date | None:
    """When the file closed: its exit or transfer (`exited_on`); for a prescription refused at intake,
    the day of the refusal (a refused journey is written once more, then never: its `updated_at`)."""
    if journey.state == REFUSED:
        return aware(journey.updated_at).date()
    return journey.exited_on if journey.state in PURGED_STATES else None


def anonymise_on(exited_on: date, policy: Policy) -> date:
    """The first day a file closed on `exited_on` is anonymised."""
    return retention(policy).from_date(exited_on)


def due_journeys(session: Session, policy: Policy, today: date) -> list[Journey]:
    """The closed journeys whose retention has run out on `today`, not anonymised yet, oldest exit first."""
    rows = session.exec(select(Journey).where(
        or_(and_(Journey.state.in_(PURGED_STATES), Journey.exited_on <= today), Journey.state == REFUSED),
        Journey.anonymised_at.is_(None)).order_by(Journey.exited_on, Journey.id)).all()
    due = [journey for journey in rows if closed_on(journey) is not None
           and anonymise_on(closed_on(journey), policy) <= today]
    return sorted(due, key=lambda journey: (closed_on(journey), journey.id))


# ------------------------------------------------------------------------------ what would go
@dataclass
class Anonymisation:
    """One journey's purge: what goes (French, counted, no name), and the rows to change."""

    journey_id: str
    state: str
    exited_on: date
    deletions: list[str] = field(default_factory=list)
    at: datetime | None = None  # when it is applied (`apply`)
    _changes: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def add(self, what: str, change: Callable[[], None]) -> None:
        self.deletions.append(what)
        self._changes.append(change)

    def line(self) -> str:
        """The dry run's line: the journey, its exit, what would go."""
        what = " ; ".join(self.deletions) or "aucune donnée personnelle restante"
        closed = "refusé" if self.state == REFUSED else "sorti"
        return f"{self.journey_id} — {closed} le {self.exited_on.isoformat()} — {what}"

    def view(self) -> dict[str, Any]:
        return {"journey_id": self.journey_id, "state": self.state, "exited_on": self.exited_on.isoformat(),
                "deleted": list(self.deletions)}


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def scrub(value: Any) -> Any:
    """A JSON value with its free texts removed: codes, ISO dates, numbers and booleans stay."""
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items() if not _FREE_TEXT_KEY.search(str(key))}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return value if _CODE.match(value) else ANONYMISED
    return value


def _set(row: Any, session: Session, **values: Any) -> Callable[[], None]:
    def change() -> None:
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
    return change


def plan(session: Session, journey: Journey) -> Anonymisation:
    """What anonymising `journey` deletes; nothing is changed until `apply`."""
    job = Anonymisation(journey.id, journey.state, closed_on(journey))
    _plan_identity(session, journey, job)
    _plan_accompaniment(session, journey, job)
    _plan_convention(session, journey, job)
    _plan_tasks_and_exits(session, journey, job)
    _plan_audit_trail(session, journey, job)
    return job


def _plan_identity(session: Session, journey: Journey, job: Anonymisation) -> None:
    person = session.get(Person, journey.id)
    if person is not None and (person.first_name or person.last_name or person.search_name):
        birth = person.birth_date.replace(month=1, day=1)
        job.add("identité (nom, prénom, date de naissance : l'année est gardée)",
                _set(person, session, first_name="", last_name="", search_name="", birth_date=birth))
    if person is not None and (person.email or person.phone):
        job.add("coordonnées (courriel, téléphone)", _set(person, session, email=None, phone=None))
    if person is not None and person.legal_representative:
        job.add("représentant légal", _set(person, session, legal_representative=None))
    if person is not None and person.employer:
        kept = {key: value for key, value in person.employer.items() if key in EMPLOYER_KEPT}
        if kept != person.employer:
            job.add("employeur à l'entrée (nom et coordonnées ; son type est gardé)",
                    _set(person, session, employer=kept or None))
    if person is not None and person.consent_by:
        job.add("auteur du consentement", _set(person, session, consent_by=None))
    texts = {name: ANONYMISED for name in ("subsidiarity_reason", "other_support", "other_support_justification",
                                           "cdaph_informed_how")
             if getattr(journey, name) not in (None, "", ANONYMISED)}
    refusal = [{"rule": item.get("rule"), "detail": ANONYMISED} for item in journey.refusal or []]
    if refusal and refusal != journey.refusal:
        texts["refusal"] = refusal
    if texts:
        job.add("textes libres de la prescription", _set(journey, session, **texts))


def _plan_accompaniment(session: Session, journey: Journey, job: Anonymisation) -> None:
    notes = session.exec(select(Contact).where(Contact.journey_id == journey.id, Contact.note.is_not(None))).all()
    if notes:
        def clear_notes() -> None:
            for contact in notes:
                _set(contact, session, note=None)()
        job.add(_plural(len(notes), "note de contact", "notes de contact"), clear_notes)
    evaluation = session.get(SharedEvaluation, journey.id)
    if evaluation is not None and any((evaluation.wishes, evaluation.needs, evaluation.resources,
                                       evaluation.employer_expectations)):
        job.add("évaluation partagée (souhaits, besoins, ressources, attentes de l'employeur ; sa date est gardée)",
                _set(evaluation, session, wishes="", needs="", resources="", employer_expectations=None))
    episodes = session.exec(select(EmploymentEpisode).where(EmploymentEpisode.journey_id == journey.id)
                            .order_by(EmploymentEpisode.started_on, EmploymentEpisode.id)).all()
    labels: dict[str, str] = {}
    for episode in episodes:  # one label per employer, in the order they came: R20 still sees the same firm
        labels.setdefault(same_employer_key(episode.employer_name), f"Employeur {len(labels) + 1}")
    named = [e for e in episodes if e.employer_name != labels[same_employer_key(e.employer_name)]
             or e.employer_siret or e.end_note]
    if named:
        def rename() -> None:
            for episode in named:
                _set(episode, session, employer_name=labels[same_employer_key(episode.employer_name)],
                     employer_siret=None, end_note=None)()
        job.add(_plural(len(named), "emploi (nom de l'employeur, SIRET, note de fin ; type, contrat et dates gardés)",
                        "emplois (noms des employeurs, SIRET, notes de fin ; types, contrats et dates gardés)"), rename)
    mails = session.exec(select(MailOutbox).where(MailOutbox.journey_id == journey.id, MailOutbox.recipient != "")).all()
    if mails:
        def clear_mails() -> None:
            for mail in mails:
                _set(mail, session, recipient="", subject="")()
        job.add(_plural(len(mails), "courriel envoyé (destinataire et objet)", "courriels envoyés (destinataires et objets)"),
                clear_mails)


def _plan_convention(session: Session, journey: Journey, job: Anonymisation) -> None:
    convention = session.exec(select(Convention).where(Convention.journey_id == journey.id)).first()
    if convention is None:
        return
    versions = session.exec(select(ConventionVersion).where(
        ConventionVersion.convention_id == convention.id, ConventionVersion.html != "")).all()
    if versions:
        def clear_documents() -> None:
            for version in versions:
                _set(version, session, content={}, html="", pdf=b"", signed_pdf=None)()
        job.add(_plural(len(versions), "version de la convention ou avenant (document et PDF)",
                        "versions de la convention et avenants (documents et PDF)"), clear_documents)
    parties = session.exec(select(ConventionParty).where(
        ConventionParty.convention_id == convention.id, ConventionParty.name != "")).all()
    if parties:
        def clear_parties() -> None:
            for party in parties:
                _set(party, session, name="", signatory_name="", signatory_quality=None, email=None)()
        job.add(_plural(len(parties), "partie à la convention (nom, signataire, courriel)",
                        "parties à la convention (noms, signataires, courriels)"), clear_parties)
    signatures = session.exec(select(Signature).where(
        Signature.convention_id == convention.id, Signature.signer_name != "")).all()
    if signatures:
        def clear_signatures() -> None:
            for signature in signatures:
                _set(signature, session, signer_name="", reason=None, ip=None, user_agent=None)()
        job.add(_plural(len(signatures), "signature (nom, adresse IP, navigateur)",
                        "signatures (noms, adresses IP, navigateurs)"), clear_signatures)
    scans = session.exec(select(SignatureScan.signature_id).join(
        Signature, Signature.id == SignatureScan.signature_id).where(Signature.convention_id == convention.id)).all()
    if scans:
        job.add(_plural(len(scans), "scan de signature papier", "scans de signatures papier"),
                lambda: session.exec(delete(SignatureScan).where(SignatureScan.signature_id.in_(scans))))


def _plan_tasks_and_exits(session: Session, journey: Journey, job: Anonymisation) -> None:
    tasks = [t for t in session.exec(select(Task).where(Task.journey_id == journey.id)).all()
             if scrub(t.context) != t.context or scrub(t.outcome) != t.outcome]
    if tasks:
        def clear_tasks() -> None:
            for task in tasks:
                _set(task, session, context=scrub(task.context), outcome=scrub(task.outcome))()
        job.add(_plural(len(tasks), "tâche (textes libres du contexte et du résultat)",
                        "tâches (textes libres des contextes et des résultats)"), clear_tasks)
    exits = [p for p in session.exec(select(ExitProcedure).where(ExitProcedure.journey_id == journey.id)).all()
             if p.decision_reason or scrub(p.detail) != p.detail]
    if exits:
        def clear_exits() -> None:
            for procedure in exits:
                _set(procedure, session, decision_reason=None, detail=scrub(procedure.detail))()
        job.add(_plural(len(exits), "dossier de sortie (textes libres)", "dossiers de sortie (textes libres)"),
                clear_exits)


def _plan_audit_trail(session: Session, journey: Journey, job: Anonymisation) -> None:
    """The trail's free texts (a task's outcome, a note, an exit's analysis) are struck out, once per
    row: the database lets that redaction through and nothing else (migration 0017). Who did what and
    when stays, and the states the indicators read are codes, kept."""
    rows = [row for row in session.exec(select(AuditEvent).where(
        AuditEvent.journey_id == journey.id, AuditEvent.redacted_at.is_(None), AuditEvent.detail.is_not(None))).all()
        if scrub(row.detail) != row.detail]
    if rows:
        def redact() -> None:
            for row in rows:
                _set(row, session, detail=scrub(row.detail), redacted_at=job.at)()
        job.add(_plural(len(rows), "ligne du journal (textes libres)", "lignes du journal (textes libres)"), redact)


# ------------------------------------------------------------------------------------- doing it
def apply(session: Session, job: Anonymisation, policy: Policy, now: datetime) -> None:
    """Delete what `job` lists, mark the journey and write its audit row (one transaction: the caller's)."""
    job.at = now
    for change in job._changes:
        change()
    journey = session.get(Journey, job.journey_id)
    journey.anonymised_at = now
    journey.updated_at = now
    session.add(journey)
    session.add(AuditEvent(
        journey_id=journey.id, at=now, actor_kind="timer", action=ACTION,
        detail={"rule": "R22", "retention": policy.personal_data.retention_after_exit,
                "exited_on": job.exited_on.isoformat(), "deleted": list(job.deletions)},
        step_key=f"{journey.id}/personal-data/anonymised"))


def anonymise(session: Session, journey_id: str, policy: Policy, today: date, now: datetime) -> Anonymisation | None:
    """Anonymise one journey if it is still due on `today` (checked again under its row lock: a
    journey reopened or already anonymised meanwhile is left alone); what was deleted, or None."""
    journey = lock_journey(session, journey_id)
    if journey.anonymised_at is not None or closed_on(journey) is None \
            or anonymise_on(closed_on(journey), policy) > today:
        return None
    job = plan(session, journey)
    apply(session, job, policy, now)
    return job


def purge(sessions: Callable[[], Any], policy: Policy, today: date, *, dry_run: bool = False,
          now: datetime | None = None) -> list[Anonymisation]:
    """Every journey due on `today`: what would go (`dry_run`), or anonymise each in its own transaction.
    `sessions()` opens a transaction (a context manager giving a Session)."""
    with sessions() as session:
        due = [(journey.id, plan(session, journey)) for journey in due_journeys(session, policy, today)]
    if dry_run:
        return [job for _, job in due]
    moment = now or datetime.now(timezone.utc)
    done = []
    for journey_id, _ in due:
        with sessions() as session:
            job = anonymise(session, journey_id, policy, today, moment)
        if job is not None:
            done.append(job)
    return done


def lines(jobs: Iterable[Anonymisation], *, dry_run: bool) -> list[str]:
    """What the command prints, in French: one line per journey, no name."""
    jobs = list(jobs)
    verb = "seraient anonymisés" if dry_run else "anonymisés"
    head = f"{len(jobs)} dossier(s) clos {verb} (R22)."
    return [head, *(job.line() for job in jobs)]
