"""The registry of mail kinds: who receives each mail, which parameters it needs, its templates.

Each kind has a template pair under ``templates/``: ``<kind>.subject.txt`` (one line) and
``<kind>.body.txt`` (plain text, French, vouvoiement). Jinja2 runs with ``StrictUndefined``: a
missing template or parameter raises instead of sending a mail with a hole in it, and
``check_templates()`` (called at start-up and in the tests) renders every kind with sample
parameters and refuses a template that uses a variable its kind does not declare.

Every template may also use ``platform_name``; when a kind does not require it, it defaults to
``DEFAULT_PLATFORM_NAME``.

R22: mails carry as little personal data as their purpose needs. The prescriber sees initials
only; the platform staff get a journey id and a link, never a name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta

from eaflow.workflows.rules import PERSONS_PER_FTE

TEMPLATES_DIR = Path(__file__).parent / "templates"
DEFAULT_PLATFORM_NAME = "La plateforme départementale d'emploi accompagné"
# Parameters every template may use without its kind declaring them.
COMMON_PARAMS = frozenset({"platform_name"})
# Constants of the rules that the texts quote (so that a rule change is not a template hunt).
TEMPLATE_GLOBALS: dict[str, Any] = {"persons_per_fte": PERSONS_PER_FTE}
# Templates whose name starts with "_" are partials ({% include %}), shared by several kinds.
PARTIAL_PREFIX = "_"


class MailParamsError(ValueError):
    """The parameters given for a mail kind are missing, unknown or unusable.

    A programming error, not a transient one: an activity should not retry it.
    """


@dataclass(frozen=True)
class MailKind:
    name: str
    params: frozenset[str]
    description: str
    recipient: str = ""

    @property
    def subject_template(self) -> str:
        return f"{self.name}.subject.txt"

    @property
    def body_template(self) -> str:
        return f"{self.name}.body.txt"


def _kind(name: str, params: set[str], recipient: str, description: str) -> MailKind:
    return MailKind(name=name, params=frozenset(params), description=description, recipient=recipient)


KINDS: dict[str, MailKind] = {k.name: k for k in (
    _kind("intake_refused", {"person_display", "prescribed_on", "refusals"}, "prescriber",
          "R1/R3/R5: the prescription was examined and refused; the reasons with their rule ids, "
          "and what the prescriber can do next. The person is shown by initials only (R22)."),
    _kind("cdaph_notification_needed", {"journey_id", "channel_label", "task_url", "due_on"}, "platform staff",
          "R2: a prescription by the SPE must be brought to the CDAPH's knowledge."),
    _kind("cdaph_notification_reminder",
          {"journey_id", "channel_label", "task_url", "since", "reminder_number"}, "platform staff",
          "R2: reminder while the CDAPH has not been informed of a SPE prescription."),
    _kind("entry_decision_person", {"first_name", "last_name", "platform_name", "waiting"}, "person",
          "R4: the entry into emploi accompagné is accepted; a counsellor will be designated "
          "(at once, or from the waiting list when `waiting`)."),
    _kind("entry_decision_platform", {"journey_id", "situation_label", "journey_url"}, "platform manager",
          "R4: a new person enters; the manager prepares the convention individuelle (R10)."),
    _kind("entry_decision_employer", {"employer_name", "person_name", "platform_name"}, "employer",
          "R4: the employee enters emploi accompagné (sent only when the person is employed)."),
    _kind("assignment_needed", {"journey_id", "situation_label", "task_url", "waiting_since"}, "managers",
          "R6/R7/R8: a person waits for a counsellor to be designated."),
    _kind("assignment_reminder",
          {"journey_id", "situation_label", "task_url", "waiting_since", "reminder_number"}, "managers",
          "R6/R7/R8: reminder while a person still waits for a counsellor."),
    _kind("admission_person", {"first_name", "last_name", "counsellor_name", "platform_name"}, "person",
          "R8: the person is admitted and told who their counsellor is."),
    _kind("admission_counsellor", {"counsellor_name", "journey_id", "task_url"}, "counsellor",
          "R8/R9: a person is entrusted to the counsellor, who starts with the shared evaluation."),
    _kind("task_reminder", {"recipient_name", "task_title", "task_url", "due_on", "reminder_number"}, "task assignee",
          "Reminder of an open task to the person it is assigned to."),
    _kind("convention_to_draft", {"counsellor_name", "journey_id", "task_url", "due_on"}, "counsellor",
          "R10: the shared evaluation is done; the counsellor drafts the convention individuelle."),
    _kind("convention_to_sign",
          {"recipient_name", "sign_url", "expires_on", "version_number", "counsellor_name"}, "convention party",
          "R10: the person (or representative) or the employer gets a personal link to read and sign the "
          "convention, or refuse it with a reason."),
    _kind("convention_sign_reminder",
          {"recipient_name", "sign_url", "expires_on", "version_number", "counsellor_name", "reminder_number"},
          "convention party", "R10: reminder to a party that has not signed yet, with a new personal link."),
    _kind("convention_platform_to_sign", {"journey_id", "task_url", "version_number"}, "platform managers",
          "R10: the platform signs the convention through a manager's task."),
    _kind("convention_unsigned_alert", {"counsellor_name", "journey_id", "task_url", "unsigned", "sent_on"},
          "counsellor", "R10: the convention is still unsigned after the escalation delay."),
    _kind("convention_refused",
          {"counsellor_name", "journey_id", "task_url", "version_number", "refused_by", "reason"}, "counsellor",
          "R10: a party refused the convention; the counsellor re-drafts it (a new version)."),
    _kind("convention_signed", {"recipient_name", "version_number", "signed_on", "content_hash"},
          "every convention party", "R10: every party has signed; the signed PDF is attached."),
    _kind("weekly_digest",
          {"counsellor_name", "week_number", "week_start", "week_end", "overdue", "due_this_week", "interviews",
           "interview_horizon", "without_contact", "contact_cutoff"}, "counsellor",
          "Weekly digest (R12, R13): the counsellor's overdue tasks and tasks due this week, quarterly interviews "
          "coming due, persons without a contact for long; sent only when one section is not empty. Persons of "
          "the counsellor's own caseload are named by first name and initial (R22), with a link."),
    _kind("avenant_to_draft", {"counsellor_name", "journey_id", "task_url", "due_on", "summary", "avenant_label"},
          "counsellor", "R10: a change calls for an avenant to the convention; the counsellor drafts it."),
    _kind("veille_started", {"recipient_name", "person_name", "veille_since", "veille_until", "extension",
                             "reactivation_conditions", "counsellor_name"}, "person and employer",
          "R14: the accompaniment is in veille until an agreed date; this is not an exit."),
    _kind("veille_ended", {"recipient_name", "person_name", "veille_since", "ended_on", "counsellor_name"},
          "person and employer", "R14: the veille has ended; the accompaniment resumes."),
    _kind("veille_ending", {"counsellor_name", "journey_id", "task_url", "veille_until"}, "counsellor",
          "R14: the veille ends soon; the counsellor prepares the resumption with the person."),
    _kind("exit_to_approve", {"journey_id", "task_url", "reason_label"}, "platform managers",
          "R18: an exit is proposed; a manager decides with the file (reason, analysis, consultation)."),
    _kind("exit_rejected", {"counsellor_name", "journey_id", "reason_label", "decision_reason"}, "counsellor",
          "R18: the manager rejected the exit proposal; the journey goes on where it was."),
    _kind("journey_exited_person", {"first_name", "last_name", "reason_label", "exited_on", "platform_name"},
          "person", "R15: the accompaniment ends, with its reason."),
    _kind("journey_exited_prescriber", {"person_display", "reason_label", "exited_on", "platform_name"},
          "prescriber", "R15: the person the prescriber sent has left the scheme (initials only, R22)."),
    _kind("journey_transferred_person", {"first_name", "last_name", "exited_on", "platform_name"}, "person",
          "R15: after a move, the platform of the new département takes the accompaniment on."),
    _kind("journey_transferred_prescriber", {"person_display", "exited_on", "platform_name"}, "prescriber",
          "R15: the person was transferred to the platform of their new département (initials only, R22)."),
    _kind("file_handover", {"person_name", "department", "counsellor_name", "counsellor_email", "journey_id"}, "the new département's platform",
          "R15: after a move, with the person's consent, the file (a summary and the convention, attached) goes to "
          "the platform of the new département, which is asked to acknowledge it."),
    _kind("file_handover_person", {"first_name", "last_name", "department"}, "person",
          "R15: the person's file was sent, as they agreed, to the platform of their new département."),
    _kind("interview_to_plan", {"counsellor_name", "journey_id", "task_url", "interview_due_on"}, "counsellor",
          "R12: the quarterly interview is due soon; the counsellor holds it and records it."),
    _kind("interview_overdue", {"counsellor_name", "journey_id", "task_url", "interview_due_on"}, "platform managers",
          "R12: the quarterly interview was due and none was recorded; the managers are alerted."),
    _kind("rights_renewal_reminder", {"counsellor_name", "journey_id", "task_url", "right_label", "ends_on"},
          "counsellor", "R19: the RQTH or the CDAPH decision ends on a known day (a point of the policy's schedule "
          "before it); the counsellor helps the person renew."),
    _kind("rights_appeal_to_decide",
          {"counsellor_name", "journey_id", "task_url", "right_label", "refused_on", "appeal_due_on"}, "counsellor",
          "R19: the renewal was refused; the counsellor asks the person whether they appeal, within the delay."),
    _kind("relaunch_attempt",
          {"counsellor_name", "journey_id", "task_url", "attempt_number", "attempts_total", "channel_label",
           "last_link_on"}, "counsellor",
          "R17: the person no longer answers; the counsellor makes an attempt of the relaunch sequence by the "
          "channel the schedule names, and records it (`last_link_on` may be None: never reached)."),
    _kind("silence_analysis",
          {"counsellor_name", "journey_id", "task_url", "last_link_on", "silence_since", "channel_labels",
           "attempts_count"}, "counsellor",
          "R17: six months at least without a link despite attempts over several channels; the counsellor "
          "examines the possible causes of the silence before anything is decided."),
    _kind("quarterly_report_archived",
          {"manager_name", "period_start", "period_end", "version", "sha256", "page_url", "download_url"},
          "platform managers", "R20: the quarter's report was computed and archived as an immutable snapshot "
          "(services/report_snapshots.py); its period, version, SHA-256 and links, no figure."),
    _kind("password_link", {"recipient_name", "email", "link_url", "validity", "expires_at", "welcome",
                            "sign_in_url"}, "account holder",
          "A one-use link to choose one's password: for a new account (`welcome`), or after an administrator "
          "asked for a reset (the current password works until the link is used). Sent by the API, not a "
          "journey (services/password_links.py)."),
)}


@dataclass(frozen=True)
class StaffMail:
    """How a mail to the platform's staff meets their preferences ("Mes préférences")."""

    roles: tuple[str, ...]  # the staff roles that receive it
    label: str  # French, as the preferences page lists it
    mandatory: str | None = None  # the rule that makes it mandatory: sent whatever the preferences say
    in_digest: bool = False  # it announces a task, which the counsellor's weekly digest lists


# Every mail kind the staff (counsellors, managers) receives, in one table; a mail of any other kind
# (to a person, an employer, a prescriber, a convention party, an account holder) never depends on a
# preference. A kind is mandatory when it carries a deadline a rule fixes and that no one else would
# watch: the CDAPH to inform (R2), the quarterly interview coming due and overdue (R12), an exit that
# only a manager may decide (R18), rights about to end and the delay to appeal a refusal (R19), the
# quarterly report archived for the funders (R20).
# The weekly digest is not in the table: it is where a counsellor who turns single mails off reads
# their tasks, so it is always sent (when it has something to say).
_C, _M, _CM = ("counsellor",), ("manager",), ("counsellor", "manager")
STAFF_MAILS: dict[str, StaffMail] = {
    "cdaph_notification_needed": StaffMail(_M, "Prescription à porter à la connaissance de la CDAPH", "R2"),
    "cdaph_notification_reminder": StaffMail(_M, "Rappel : CDAPH pas encore informée d'une prescription", "R2"),
    "entry_decision_platform": StaffMail(_M, "Entrée d'une nouvelle personne sur la plateforme"),
    "assignment_needed": StaffMail(_M, "Personne en attente d'un conseiller"),
    "assignment_reminder": StaffMail(_M, "Rappel : personne toujours en attente d'un conseiller"),
    "convention_platform_to_sign": StaffMail(_M, "Convention à signer pour la plateforme"),
    "exit_to_approve": StaffMail(_M, "Proposition de sortie à valider", "R18"),
    "interview_overdue": StaffMail(_M, "Entretien trimestriel en retard", "R12"),
    "quarterly_report_archived": StaffMail(_M, "Rapport trimestriel archivé", "R20"),
    "task_reminder": StaffMail(_CM, "Rappel d'une tâche ouverte", in_digest=True),
    "admission_counsellor": StaffMail(_C, "Nouvelle personne à accompagner", in_digest=True),
    "convention_to_draft": StaffMail(_C, "Convention individuelle à rédiger", in_digest=True),
    "convention_unsigned_alert": StaffMail(_C, "Convention toujours pas signée", in_digest=True),
    "convention_refused": StaffMail(_C, "Convention refusée par une partie", in_digest=True),
    "avenant_to_draft": StaffMail(_C, "Avenant à rédiger", in_digest=True),
    "veille_ending": StaffMail(_C, "Fin de veille prochaine", in_digest=True),
    "exit_rejected": StaffMail(_C, "Proposition de sortie refusée par un responsable"),
    "interview_to_plan": StaffMail(_C, "Entretien trimestriel à tenir", "R12", in_digest=True),
    "rights_renewal_reminder": StaffMail(_C, "Renouvellement des droits à préparer", "R19", in_digest=True),
    "rights_appeal_to_decide": StaffMail(_C, "Recours après un refus de renouvellement", "R19", in_digest=True),
    "relaunch_attempt": StaffMail(_C, "Tentative de relance à faire", in_digest=True),
    "silence_analysis": StaffMail(_C, "Examen du silence d'une personne", in_digest=True),
}
# Who gets the weekly digest (activities/digest.py): the counsellors, about their own tasks and persons.
# A manager's tasks are the team's (a role, not a person): no digest holds them, so a manager has no
# "digest instead" choice.
DIGEST_ROLES = ("counsellor",)


def staff_mail_skipped(kind: str, role: str, muted_kinds: frozenset[str] | set[str] | list[str],
                       digest_instead: bool) -> str | None:
    """Why a member of the staff with this role and these preferences does not get a mail of `kind`:
    "muted" (they turned the kind off), "digest" (they read their tasks in the weekly digest, which
    lists the task this mail announces), or None: they get it. A mandatory kind is always sent."""
    mail = STAFF_MAILS.get(kind)
    if mail is None or mail.mandatory or role not in mail.roles:
        return None
    if kind in muted_kinds:
        return "muted"
    if digest_instead and mail.in_digest and role in DIGEST_ROLES:
        return "digest"
    return None

# Sample parameters: check_templates() renders every kind with them; the tests snapshot the result.
SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "intake_refused": {
        "person_display": "M. D.",
        "prescribed_on": date(2026, 11, 2),
        "refusals": [
            {"rule": "R1", "detail": "La RQTH a pris fin le 01/10/2026 : il faut une reconnaissance de la "
                                     "qualité de travailleur handicapé en cours de validité, ou le statut "
                                     "de bénéficiaire de l'obligation d'emploi."},
            {"rule": "R5", "detail": "Le prescripteur doit indiquer pourquoi les services de droit commun "
                                     "ne suffisent pas."},
        ],
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "cdaph_notification_needed": {
        "journey_id": "J-2026-0042", "channel_label": "France Travail",
        "task_url": "http://127.0.0.1:8000/tasks/T-1", "due_on": date(2026, 11, 9),
    },
    "cdaph_notification_reminder": {
        "journey_id": "J-2026-0042", "channel_label": "Cap emploi",
        "task_url": "http://127.0.0.1:8000/tasks/T-1", "since": date(2026, 11, 2), "reminder_number": 2,
    },
    "entry_decision_person": {
        "first_name": "Camille", "last_name": "Durand",
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin", "waiting": True,
    },
    "entry_decision_platform": {
        "journey_id": "J-2026-0042", "situation_label": "en emploi, avec un risque pour son emploi",
        "journey_url": "http://127.0.0.1:8000/journeys/J-2026-0042",
    },
    "entry_decision_employer": {
        "employer_name": "Boulangerie Martin", "person_name": "Camille Durand",
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "assignment_needed": {
        "journey_id": "J-2026-0042", "situation_label": "à la recherche d'un emploi",
        "task_url": "http://127.0.0.1:8000/tasks/T-2", "waiting_since": date(2026, 11, 5),
    },
    "assignment_reminder": {
        "journey_id": "J-2026-0042", "situation_label": "à la recherche d'un emploi",
        "task_url": "http://127.0.0.1:8000/tasks/T-2", "waiting_since": date(2026, 11, 5),
        "reminder_number": 1,
    },
    "admission_person": {
        "first_name": "Camille", "last_name": "Durand", "counsellor_name": "Nadia Lefèvre",
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "admission_counsellor": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042",
        "task_url": "http://127.0.0.1:8000/tasks/T-3",
    },
    "task_reminder": {
        "recipient_name": "Nadia Lefèvre", "task_title": "Évaluation partagée de la situation",
        "task_url": "http://127.0.0.1:8000/tasks/T-3",
        "due_on": datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc), "reminder_number": 1,
    },
    "convention_to_draft": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042",
        "task_url": "http://127.0.0.1:8000/tasks/T-4", "due_on": date(2026, 12, 22),
    },
    "convention_to_sign": {
        "recipient_name": "Camille Durand", "sign_url": "http://127.0.0.1:8000/signature/C-1/abc.123.def",
        "expires_on": datetime(2026, 12, 22, 9, 0, tzinfo=timezone.utc), "version_number": 1,
        "counsellor_name": "Nadia Lefèvre", "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "convention_sign_reminder": {
        "recipient_name": "Paul Martin", "sign_url": "http://127.0.0.1:8000/signature/C-1/abc.456.def",
        "expires_on": datetime(2026, 12, 29, 9, 0, tzinfo=timezone.utc), "version_number": 2,
        "counsellor_name": "Nadia Lefèvre", "reminder_number": 1,
    },
    "convention_platform_to_sign": {
        "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-5", "version_number": 1,
    },
    "convention_unsigned_alert": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042",
        "task_url": "http://127.0.0.1:8000/tasks/T-6", "unsigned": ["la personne accompagnée", "l'employeur"],
        "sent_on": date(2026, 11, 22),
    },
    "avenant_to_draft": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-9",
        "due_on": date(2027, 1, 18), "summary": "Nouvel employeur : Boulangerie Martin (CDD) à partir du 04/01/2027",
        "avenant_label": "changement d'employeur",
    },
    "veille_started": {
        "recipient_name": "Léa Martin", "person_name": "Léa Martin", "veille_since": date(2027, 3, 1),
        "veille_until": date(2027, 6, 1), "extension": False, "counsellor_name": "Nadia Lefèvre",
        "reactivation_conditions": "À la demande de Mme Martin ou de son employeur, à tout moment.",
    },
    "veille_ended": {
        "recipient_name": "Léa Martin", "person_name": "Léa Martin", "veille_since": date(2027, 3, 1),
        "ended_on": date(2027, 5, 12), "counsellor_name": "Nadia Lefèvre",
    },
    "veille_ending": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-12",
        "veille_until": date(2027, 6, 1),
    },
    "exit_to_approve": {"journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-13",
                        "reason_label": "demande explicite de la personne"},
    "exit_rejected": {"counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042",
                      "reason_label": "désengagement manifeste et durable",
                      "decision_reason": "Un contact avec sa sœur a été établi : poursuivre les relances."},
    "journey_exited_person": {"first_name": "Léa", "last_name": "Martin", "reason_label": "demande explicite de la personne",
                              "exited_on": date(2027, 6, 30), "platform_name": "Plateforme emploi accompagné du Bas-Rhin"},
    "journey_exited_prescriber": {"person_display": "L. M.", "reason_label": "demande explicite de la personne",
                                  "exited_on": date(2027, 6, 30), "platform_name": "Plateforme emploi accompagné du Bas-Rhin"},
    "journey_transferred_person": {"first_name": "Léa", "last_name": "Martin", "exited_on": date(2027, 6, 30),
                                   "platform_name": "Plateforme emploi accompagné du Bas-Rhin"},
    "journey_transferred_prescriber": {"person_display": "L. M.", "exited_on": date(2027, 6, 30),
                                       "platform_name": "Plateforme emploi accompagné du Bas-Rhin"},
    "file_handover": {"person_name": "Léa Martin", "department": "75", "counsellor_name": "Nadia Lefèvre",
                      "counsellor_email": "nadia.lefevre@plateforme67.fr", "journey_id": "J-2026-0042"},
    "file_handover_person": {"first_name": "Léa", "last_name": "Martin", "department": "75"},
    "interview_to_plan": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-10",
        "interview_due_on": date(2027, 3, 1),
    },
    "interview_overdue": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-11",
        "interview_due_on": date(2027, 3, 1),
    },
    "rights_renewal_reminder": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-12",
        "right_label": "la RQTH", "ends_on": date(2027, 5, 31),
    },
    "rights_appeal_to_decide": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-13",
        "right_label": "la RQTH", "refused_on": date(2027, 4, 2), "appeal_due_on": date(2027, 6, 2),
    },
    "relaunch_attempt": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-14",
        "attempt_number": 2, "attempts_total": 8, "channel_label": "courrier", "last_link_on": "2027-02-03",
    },
    "silence_analysis": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042", "task_url": "http://127.0.0.1:8000/tasks/T-15",
        "last_link_on": "2027-02-03", "silence_since": "2027-02-03",
        "channel_labels": ["téléphone", "courrier", "courriel", "tiers de confiance"], "attempts_count": 7,
    },
    "convention_refused": {
        "counsellor_name": "Nadia Lefèvre", "journey_id": "J-2026-0042",
        "task_url": "http://127.0.0.1:8000/tasks/T-7", "version_number": 1, "refused_by": "l'employeur",
        "reason": "Les visites sur le lieu de travail doivent être annoncées une semaine à l'avance.",
    },
    "convention_signed": {
        "recipient_name": "Camille Durand", "version_number": 1, "signed_on": date(2026, 12, 3),
        "content_hash": "3f7a" * 16, "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "quarterly_report_archived": {
        "manager_name": "Marc Weber", "period_start": date(2026, 10, 1), "period_end": date(2026, 12, 31),
        "version": 1, "sha256": "9c1e" * 16, "page_url": "http://127.0.0.1:8000/indicateurs",
        "download_url": "http://127.0.0.1:8000/indicateurs/archives/12?format=xlsx",
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "password_link": {
        "recipient_name": "Nadia Lefèvre", "email": "nadia.lefevre@plateforme67.fr",
        "link_url": "http://127.0.0.1:8000/mot-de-passe/abc123", "validity": "48 heures",
        "expires_at": datetime(2026, 12, 5, 13, 30, tzinfo=timezone.utc), "welcome": True,
        "sign_in_url": "http://127.0.0.1:8000/connexion",
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
    "weekly_digest": {
        "counsellor_name": "Nadia Lefèvre", "week_number": 48,
        "week_start": date(2026, 11, 23), "week_end": date(2026, 11, 29),
        "overdue": [{"title": "Évaluation partagée de la situation", "person": "Camille D.",
                     "due_on": datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc),
                     "url": "http://127.0.0.1:8000/api/v1/tasks/T-3"}],
        "due_this_week": [{"title": "Rédiger la convention individuelle", "person": "Paul M.",
                           "due_on": datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc),
                           "url": "http://127.0.0.1:8000/api/v1/tasks/T-4"}],
        "interview_horizon": date(2026, 12, 7),
        "interviews": [
            {"person": "Inès B.", "due_on": date(2026, 11, 18), "overdue": True,
             "url": "http://127.0.0.1:8000/api/v1/journeys/J-2026-0040"},
            {"person": "Camille D.", "due_on": date(2026, 12, 2), "overdue": False,
             "url": "http://127.0.0.1:8000/api/v1/journeys/J-2026-0042"},
        ],
        "contact_cutoff": date(2026, 10, 23),
        "without_contact": [
            {"person": "Léo R.", "last_contact_on": date(2026, 9, 14), "admitted_on": date(2026, 3, 2),
             "url": "http://127.0.0.1:8000/api/v1/journeys/J-2026-0017"},
            {"person": "Sarah K.", "last_contact_on": None, "admitted_on": date(2026, 10, 5),
             "url": "http://127.0.0.1:8000/api/v1/journeys/J-2026-0051"},
        ],
        "platform_name": "Plateforme emploi accompagné du Bas-Rhin",
    },
}

# What a rule id means, in words a prescriber understands (used by intake_refused).
RULE_LABELS: dict[str, str] = {
    "R1": "conditions d'accès : âge, RQTH ou statut de bénéficiaire de l'obligation d'emploi",
    "R2": "voie d'entrée : décision de la CDAPH ou prescription du service public de l'emploi",
    "R3": "consentement de la personne ou de son représentant légal",
    "R5": "complémentarité avec les accompagnements existants",
    "R7": "nombre de personnes accompagnées par conseiller",
}

_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre")


def _local(moment: datetime) -> datetime:
    """An aware datetime in metropolitan French time (the platforms' time); naive ones are kept."""
    if moment.tzinfo is None:
        return moment
    try:
        from zoneinfo import ZoneInfo

        return moment.astimezone(ZoneInfo("Europe/Paris"))
    except Exception:  # no tz database: UTC is still a correct day most of the time
        return moment


def as_date(value: Any) -> date:
    """A date from a date, a datetime or an ISO string (parameters may have crossed JSON)."""
    if isinstance(value, datetime):
        return _local(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return _local(datetime.fromisoformat(text.replace("Z", "+00:00"))).date()
        except ValueError:
            pass
    raise MailParamsError(f"not a date: {value!r}")


def date_fr(value: Any) -> str:
    """'1er décembre 2026', '22 novembre 2026'."""
    day = as_date(value)
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"


def time_fr(value: datetime) -> str:
    """'14 h 30', '9 h' (Paris time for an aware datetime)."""
    moment = _local(value)
    return f"{moment.hour} h {moment.minute:02d}" if moment.minute else f"{moment.hour} h"


def date_short(value: Any) -> str:
    """'01/12/2026' (Paris time for an aware datetime)."""
    return as_date(value).strftime("%d/%m/%Y")


def rule_label(rule: str) -> str:
    return RULE_LABELS.get(str(rule), "")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=False,  # plain text mails
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date_fr"] = date_fr
    env.filters["rule_label"] = rule_label
    env.filters["date_short"] = date_short
    env.filters["time_fr"] = time_fr
    env.globals.update(TEMPLATE_GLOBALS)
    return env


_ENV = _environment()


def get_kind(name: str) -> MailKind:
    try:
        return KINDS[name]
    except KeyError:
        raise MailParamsError(f"unknown mail kind {name!r} (known: {', '.join(sorted(KINDS))})") from None


def render(kind: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """Render a mail: (subject on one line, plain text body).

    Raises MailParamsError on an unknown kind, a missing or an undeclared parameter, and
    jinja2's TemplateNotFound / UndefinedError when a template is missing or uses a hole.
    """
    mail = get_kind(kind)
    given = set(params)
    missing = mail.params - given
    if missing:
        raise MailParamsError(f"mail {kind!r}: missing parameter(s) {', '.join(sorted(missing))}")
    unknown = given - mail.params - COMMON_PARAMS
    if unknown:
        raise MailParamsError(f"mail {kind!r}: unknown parameter(s) {', '.join(sorted(unknown))}")
    context = {"platform_name": DEFAULT_PLATFORM_NAME, **params}
    subject = _ENV.get_template(mail.subject_template).render(context)
    # One header line: collapse whitespace so that no parameter can inject a header.
    subject = re.sub(r"\s+", " ", subject).strip()
    if not subject:
        raise MailParamsError(f"mail {kind!r}: empty subject")
    body = _ENV.get_template(mail.body_template).render(context)
    body = re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return subject, body


def _template_variables(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The variables a template needs from its context, through its {% include %}s."""
    source = _ENV.loader.get_source(_ENV, name)[0]
    tree = _ENV.parse(source)
    variables = set(meta.find_undeclared_variables(tree)) - set(TEMPLATE_GLOBALS)
    for included in meta.find_referenced_templates(tree):
        if included is None:
            raise MailParamsError(f"{name}: dynamic include, cannot be checked")
        if included not in seen:
            variables |= _template_variables(included, seen | {name})
    return variables


def check_templates() -> dict[str, tuple[str, str]]:
    """Render every kind with its sample parameters; fail on any hole. Returns kind → (subject, body).

    Also refuses: a template using a variable its kind does not declare (it would only fail
    when a real mail is sent with those exact params), a kind without samples, and a template
    file that belongs to no kind.
    """
    rendered: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for name, mail in KINDS.items():
        if name not in SAMPLE_PARAMS:
            problems.append(f"{name}: no sample parameters")
            continue
        for template in (mail.subject_template, mail.body_template):
            undeclared = _template_variables(template) - mail.params - COMMON_PARAMS
            if undeclared:
                problems.append(f"{template}: uses undeclared {', '.join(sorted(undeclared))}")
        rendered[name] = render(name, SAMPLE_PARAMS[name])
    expected = {t for m in KINDS.values() for t in (m.subject_template, m.body_template)}
    orphans = sorted(p.name for p in TEMPLATES_DIR.glob("*.txt")
                     if p.name not in expected and not p.name.startswith(PARTIAL_PREFIX))
    if orphans:
        problems.append(f"templates of no registered kind: {', '.join(orphans)}")
    if problems:
        raise MailParamsError("mail templates: " + "; ".join(problems))
    return rendered
