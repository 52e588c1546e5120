"""The journey's timeline in French: each traced event (AuditEvent.action) with a label, who did it
and when (R21)."""
from __future__ import annotations

from typing import Any

from eaflow.workflows.task_kinds import TASK_KINDS

ACTION_LABELS: dict[str, str] = {
    "prescription_received": "Prescription reçue",
    "intake_accepted": "Prescription examinée : éligible",
    "intake_refused": "Prescription non retenue",
    "cdaph_informed": "CDAPH informée de la prescription",
    "cdaph_notified": "CDAPH informée de la prescription",
    "counsellor_assigned": "Conseiller désigné, personne admise",
    "counsellor_changed": "Changement de conseiller",
    "shared_evaluation_recorded": "Évaluation partagée enregistrée",
    "convention_started": "Convention à rédiger",
    "convention_drafted": "Convention rédigée",
    "convention_sent_for_signature": "Convention envoyée pour signature",
    "convention_signed_by_party": "Convention signée par une partie",
    "convention_refused_by_party": "Convention refusée par une partie",
    "convention_unsigned_alert": "Convention toujours pas signée : alerte",
    "convention_frozen": "Convention signée par toutes les parties",
    "convention_signed": "Convention signée",
    "avenant_requested": "Avenant demandé",
    "avenant_signed": "Avenant signé",
    "waiting_list_entered": "Inscription sur la liste d'attente",
    "admitted": "Admission",
    "rights_tracked": "Suivi des droits commencé",
    "task_opened": "Tâche ouverte",
    "task_done": "Tâche terminée",
    "task_cancelled": "Tâche annulée",
    "interview_due": "Entretien trimestriel à planifier",
    "interview_overdue": "Entretien trimestriel en retard",
    "contact_recorded": "Contact enregistré",
    "contact_edited": "Contact corrigé",
    "contact_deleted": "Contact supprimé",
    "contacts_read": "Contacts consultés",
    "employment_opened": "Emploi enregistré",
    "employment_closed": "Fin d'un emploi",
    "employment_read": "Emplois consultés",
    "veille_started": "Mise en veille",
    "veille_extended": "Veille prolongée",
    "veille_ended": "Fin de la veille : reprise de l'accompagnement",
    "relaunch_started": "Relances commencées",
    "relaunch_attempt_due": "Relance à faire",
    "relaunch_attempt_recorded": "Relance enregistrée",
    "relaunch_channel_impossible": "Moyen de relance impossible",
    "relaunch_ended": "Fin des relances",
    "silence_analysis_due": "Examen des causes du silence à faire",
    "silence_analysed": "Causes du silence examinées",
    "rights_reminder": "Rappel : fin des droits à anticiper",
    "rights_renewal_filed": "Demande de renouvellement déposée",
    "rights_granted": "Droits renouvelés",
    "rights_refused": "Renouvellement refusé",
    "rights_appeal_filed": "Recours déposé",
    "rights_appeal_granted": "Recours : droits accordés",
    "rights_final_refusal": "Refus définitif des droits",
    "rights_ended_pending_decision": "Droits échus, décision attendue",
    "exit_proposed": "Sortie proposée",
    "exit_proposed_non_renewal": "Sortie proposée : droits non renouvelés",
    "exit_proposal_withdrawn": "Proposition de sortie retirée",
    "exit_rejected": "Sortie refusée par un responsable",
    "journey_exited": "Sortie du dispositif",
    "journey_transferred": "Dossier transféré vers une autre plateforme",
    "journey_transferred_in": "Dossier reçu d'une autre plateforme",
    "administrative_closure": "Clôture administrative",
    "mail_not_sent": "Courriel non envoyé",
    "journey_read": "Dossier consulté",
    "history_read": "Historique consulté",
    "convention_read": "Convention consultée",
    "signature_scan_read": "Scan de signature consulté",
    "prescription_read": "Suite de la prescription consultée par le prescripteur",
    "journal_read": "Journal d'audit consulté",
    "journey_listed": "Dossier affiché dans une liste de parcours",
    "task_read": "Tâche consultée",
    "intensity_read": "Intensité de l'accompagnement consultée",
    "waiting_list_read": "Liste d'attente consultée",
    "person_exported": "Dossier exporté pour la personne (RGPD, droit d'accès)",
    "personal_data_anonymised": "Données personnelles anonymisées après la durée de conservation (R22)",
}
ACTORS = {"timer": "échéance automatique", "system": "eaflow", "link": "lien de signature"}


def describe_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event of the history (services.journeys.journey_history) as the timeline shows it."""
    action = event["action"]
    actor = event.get("actor")
    label = ACTION_LABELS.get(action, "Étape enregistrée")
    kind = TASK_KINDS.get((event.get("detail") or {}).get("kind", ""))
    if action.startswith("task_") and kind is not None:
        label = f"{label} : {kind.title[0].lower()}{kind.title[1:]}"
    return {
        "at": event["at"], "label": label, "code": action,
        "by": actor["name"] if actor else ACTORS.get(event.get("actor_kind", ""), ""),
    }
