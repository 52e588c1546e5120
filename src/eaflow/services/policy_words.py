"""The policy in force in French words, for the administrators' workspace: "3 mois", "tous les 7 jours",
"48 heures", each with a sentence saying what it governs.

`duration_words` (pure, in eaflow/durations.py, so that the workflows' refusals say it too) and
`every_words` turn one ISO 8601 duration (eaflow/durations.py's grammar) into words, keeping the units
the policy wrote (PT48H is "48 heures", not "2 jours"). `WORDS` holds the
French title of each section and, for each key of the policy (eaflow/policy.py), its sentence and how
its value reads; a key of the policy without its French line fails the tests (tests/unit/
test_policy_words.py), so a new duration cannot appear on the page in English or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from eaflow.durations import UNIT_WORDS as _UNITS
from eaflow.durations import Duration, duration_words
from eaflow.durations import duration_parts as _parts
from eaflow.durations import join_words as _join
from eaflow.durations import unit_word as _unit
from eaflow.policy import NATIONAL_DEFAULTS, Policy, load_policy, relaunch_attempt
from eaflow.services import roles
from eaflow.settings import Settings
from eaflow.store.models import User
from eaflow.workflows.task_kinds import RELAUNCH_CHANNEL_LABELS

_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def every_words(iso: str) -> str:
    """How often: 'P1M' → 'tous les mois', 'P7D' → 'tous les 7 jours', 'P2W' → 'toutes les 2 semaines',
    'PT1H' → 'toutes les heures'; several units: 'à intervalles de 1 jour et 12 heures'."""
    parts = _parts(iso)
    if not parts:
        return "en continu"
    if len(parts) > 1:
        return "à intervalles de " + duration_words(iso)
    (number, unit), = parts
    singular, plural, feminine = _UNITS[unit]
    every = "toutes les" if feminine else "tous les"
    if number == "1":
        return f"{every} {plural}"
    return f"{every} {number} {_unit(number, unit)}"


# ---------------------------------------------------------------------------------- the policy's keys
def _count(singular: str, plural: str) -> Callable[[int], str]:
    def shown(value: int) -> str:
        return f"{value:,}".replace(",", "\u202f") + " " + (singular if value <= 1 else plural)
    return shown


def _before_end(points: list[str]) -> str:
    return _join([duration_words(point) for point in points]) + " avant la fin"


def _attempts(items: list[str]) -> str:
    steps = []
    for item in items:
        offset, channel = relaunch_attempt(item)
        when = "au début" if Duration.parse(offset).is_zero() else "après " + duration_words(offset)
        steps.append(f"{when} : {RELAUNCH_CHANNEL_LABELS[channel]}")
    return " ; ".join(steps)


_ROLE_WORDS = {"counsellor": "les conseillers", "manager": "les responsables", "admin": "les administrateurs",
               "prescriber": "les prescripteurs"}


def _roles(values: list[str]) -> str:
    return _join([_ROLE_WORDS.get(role, role) for role in values]) if values else "aucun rôle (facultative pour tous)"


@dataclass(frozen=True)
class Line:
    sentence: str  # what the key governs, in French
    shown: Callable[[Any], str] = duration_words  # how its value reads


_EVERY = every_words
WORDS: dict[str, tuple[str, dict[str, Line]]] = {
    "intake": ("Entrée : les prescriptions", {
        "cdaph_notification_due": Line("R2 : délai pour porter une prescription du service public de l'emploi à la "
                                       "connaissance de la CDAPH."),
        "cdaph_reminder_every": Line("R2 : rappel à l'équipe de la plateforme tant que la CDAPH n'est pas informée.",
                                     _EVERY),
        "prescription_max_age": Line("Une prescription ou une décision de la CDAPH plus ancienne que ce délai est "
                                     "refusée à l'enregistrement : une erreur de saisie, ou une décision à renouveler."),
        "consent_margin": Line("Le consentement de la personne peut précéder la prescription de ce délai au plus ; il "
                               "ne peut pas être daté après le jour de l'enregistrement."),
    }),
    "waiting_list": ("Liste d'attente", {
        "assignment_due": Line("R6, R7 : délai visé pour qu'un responsable désigne le conseiller d'une personne."),
        "assignment_reminder_every": Line("Rappel aux responsables tant qu'une personne attend son conseiller.", _EVERY),
    }),
    "admission": ("Admission", {
        "shared_evaluation_due": Line("R9 : délai pour l'évaluation partagée de la situation après l'admission."),
        "shared_evaluation_reminder_every": Line("R9 : rappel au conseiller tant que l'évaluation partagée n'est pas "
                                                 "enregistrée.", _EVERY),
    }),
    "convention": ("Convention individuelle", {
        "draft_due": Line("R10 : délai pour rédiger la convention après l'évaluation partagée."),
        "draft_reminder_every": Line("R10 : rappel au conseiller tant que la convention n'est pas rédigée.", _EVERY),
        "signature_link_valid_for": Line("R10 : durée de validité du lien personnel de signature envoyé par courriel."),
        "signature_reminder_every": Line("R10 : relance de chaque partie qui n'a pas encore signé.", _EVERY),
        "signature_escalation_after": Line("R10 : alerte au conseiller quand la convention n'est toujours pas signée "
                                           "ce temps après son envoi."),
    }),
    "accompaniment": ("Accompagnement", {
        "interview_every": Line("R12 : entretien avec la personne au moins à ce rythme (l'échéance court depuis le "
                                "dernier entretien).", _EVERY),
        "interview_lead": Line("R12 : le conseiller reçoit une tâche pour tenir l'entretien ce temps avant son "
                               "échéance."),
        "avenant_draft_due": Line("R10 : délai pour rédiger un avenant après le changement qui l'appelle."),
        "without_contact_after": Line("R13 : le point de la semaine signale les personnes qu'aucun contact n'a "
                                      "jointes depuis ce temps."),
        "digest_weekday": Line("Jour d'envoi du point de la semaine à chaque conseiller (heure de Paris).",
                               lambda day: _WEEKDAYS[day - 1]),
        "digest_hour": Line("Heure d'envoi du point de la semaine (heure de Paris).", lambda hour: f"{hour} h"),
    }),
    "veille": ("Veille", {
        "max_duration": Line("R14 : durée maximale d'une veille depuis son premier jour, prolongations comprises."),
        "ending_lead": Line("R14 : le conseiller reçoit une tâche ce temps avant la fin de la veille."),
    }),
    "rights": ("Droits : RQTH et décision de la CDAPH", {
        "reminders_before_end": Line("R19 : le conseiller reçoit une tâche pour aider la personne à renouveler ses "
                                     "droits, à chacune de ces échéances avant leur fin.", _before_end),
        "renewal_task_due": Line("R19 : délai pour aider la personne à renouveler, après chaque rappel."),
        "appeal_delay": Line("R19 : délai pour former un recours après un refus de renouvellement, à compter du "
                             "refus."),
    }),
    "relaunch": ("Relances d'une personne qui ne répond plus", {
        "not_reached_after": Line("R17 : une procédure de relance commence quand la personne n'a pas été jointe "
                                  "depuis ce temps, malgré au moins une tentative."),
        "attempts": Line("R17 : les tentatives de la procédure, chacune à son délai depuis le début et par son "
                         "moyen ; le conseiller reçoit une tâche pour chacune.", _attempts),
        "silence_minimum": Line("R17 : l'examen du silence ne vient qu'après ce temps sans aucun lien ; jamais moins "
                                "de six mois."),
        "minimum_channels": Line("R17 : et seulement une fois chacun des cinq moyens (téléphone, courrier, "
                                 "courriel, tiers de confiance, déplacement au domicile) tenté ou noté impossible, "
                                 "avec la raison ; ce nombre de moyens différents ne s'applique plus qu'aux "
                                 "parcours déjà en relance sous l'ancienne règle, le temps de leur exécution en "
                                 "cours.", _count("moyen", "moyens")),
    }),
    "accounts": ("Comptes et connexions", {
        "session_idle_timeout": Line("Une session dans le navigateur se termine après ce temps sans activité."),
        "session_lifetime": Line("Et dans tous les cas ce temps après la connexion."),
        "api_token_idle_timeout": Line("Un jeton d'accès à l'API (outils et scripts) cesse de fonctionner après ce "
                                       "temps sans requête…"),
        "api_token_lifetime": Line("… et dans tous les cas ce temps après sa délivrance."),
        "sign_in_max_failures": Line("La connexion est suspendue après ce nombre d'échecs pour un même compte ou "
                                     "depuis une même adresse…", _count("échec", "échecs")),
        "sign_in_failure_window": Line("… dans ce laps de temps (dans les pages comme par l'API)."),
        "password_link_validity": Line("Un lien pour choisir son mot de passe (nouveau compte ou réinitialisation) "
                                       "ne sert qu'une fois, dans ce délai."),
        "second_factor_roles": Line("Les comptes de ces rôles doivent se connecter avec une double authentification "
                                    "(un code à usage unique d'une application d'authentification, en plus du mot "
                                    "de passe) ; chacun peut l'activer de lui-même.", _roles),
    }),
    "limits": ("Limites contre les abus des liens publics", {
        "public_link_max_per_address": Line("Les pages des liens publics (signature de la convention, choix du mot "
                                            "de passe) sont refusées pour un temps à une même adresse après ce nombre "
                                            "de demandes…", _count("demande", "demandes")),
        "public_link_address_window": Line("… dans ce laps de temps, que les liens soient valables ou non."),
        "public_link_max_per_link": Line("Et à un même lien, d'où que viennent les demandes, après ce nombre de "
                                         "demandes…", _count("demande", "demandes")),
        "public_link_link_window": Line("… dans ce laps de temps."),
    }),
    "personal_data": ("Données personnelles (R22)", {
        "retention_after_exit": Line("R22 : les données personnelles d'un dossier clos (identité, coordonnées, notes, "
                                     "documents, scans) sont gardées ce temps après la sortie ou le transfert, puis "
                                     "anonymisées ; les indicateurs gardent ce qu'ils comptent, sans nommer personne."),
    }),
    "reports": ("Rapports trimestriels (R20)", {
        "snapshot_delay_days": Line("R20 : le rapport du trimestre écoulé est calculé, archivé et envoyé aux responsables "
                                    "ce nombre de jours après la fin du trimestre (à 6 h), le temps que les dernières "
                                    "saisies soient faites.", _count("jour", "jours")),
    }),
    "workflow": ("Fonctionnement des parcours", {
        "history_event_limit": Line("Un parcours repart sur un historique neuf quand le sien atteint ce nombre "
                                    "d'événements.", _count("événement", "événements")),
        "run_at_most": Line("Et au moins à ce rythme pendant l'accompagnement, pour qu'un parcours sans activité "
                            "prenne en compte la politique et le logiciel en vigueur.", _EVERY),
    }),
}


def policy_in_words(policy: Policy) -> list[dict[str, Any]]:
    """Each section of the policy: its French title and, for each key, the value in words, the sentence
    of what it governs, the value as written in the file and whether it is the national default."""
    sections = []
    for section_name in Policy.model_fields:
        title, lines = WORDS[section_name]
        section, default = getattr(policy, section_name), getattr(NATIONAL_DEFAULTS, section_name)
        rows = []
        for key in type(section).model_fields:
            value, line = getattr(section, key), lines[key]
            rows.append({"key": key, "words": line.shown(value), "sentence": line.sentence, "raw": value,
                         "national": value == getattr(default, key)})
        sections.append({"name": section_name, "title": title, "rows": rows})
    return sections


def policy_page(settings: Settings, user: User) -> dict[str, Any]:
    """The policy in force (what the workers load: EAFLOW_POLICY_FILE, or the national defaults)."""
    roles.check(user, roles.ADMINS)
    policy = load_policy(settings.policy_file)
    return {"sections": policy_in_words(policy),
            "file": str(Path(settings.policy_file)) if settings.policy_file else None}
