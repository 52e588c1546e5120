"""What a manager's decision needs on the page where it is taken: for an exit (R18), the proposal, its
reason, the analysis and the consultation, the relaunch attempts and the silence (R17) or the rights
that lapsed (R19), and the rule that allows the exit (R15) or forbids it (R18). Built from what the
journey wrote into the `approve_exit` task's context when it opened the procedure."""
from __future__ import annotations

from datetime import date
from typing import Any

from eaflow.workflows import rules
from eaflow.workflows.task_kinds import RELAUNCH_CHANNEL_LABELS, RULE_SUMMARIES

ATTEMPT_RESULT_LABELS = {
    "not_reached": "personne non jointe", "employer_only": "seul l'employeur a été joint",
    "third_party_only": "seul le tiers de confiance a été joint", "reached": "personne jointe",
}
RIGHTS_LABELS = {"rqth": "la RQTH", "cdaph": "la décision d'orientation de la CDAPH"}
RIGHTS_WHY = {"no_renewal": "aucune demande de renouvellement n'a abouti avant la fin des droits",
              "final_refusal": "le renouvellement a été refusé, sans recours ou après le rejet du recours"}
DETAIL_LABELS = {
    "informed": "Personne informée des conséquences de sa décision",
    "low_intensity_offered": "Accompagnement de faible intensité proposé",
    "department": "Département où la personne s'installe",
    "towards": "Réorientation vers",
}
RULE_R15 = ("R15", "la sortie n'est possible que pour un motif prévu : demande explicite de la personne, "
                   "déménagement, non-renouvellement des droits, désengagement manifeste et durable, "
                   "réorientation choisie, décès.")


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return None


def _yes_no(value: Any) -> str:
    return "oui" if value is True else "non" if value is False else str(value)


def _months(first: date, last: date) -> int:
    months = (last.year - first.year) * 12 + last.month - first.month
    return months - (1 if last.day < first.day else 0)


def _relaunch(details: dict[str, Any], today: date) -> dict[str, Any]:
    """R17: the relaunch sequence the silence went through, as the examination saw it."""
    silence_since = _day(details.get("silence_since"))
    attempts = [{"on": _day(a.get("on")), "channel": RELAUNCH_CHANNEL_LABELS.get(a.get("channel"), a.get("channel")),
                 "result": ATTEMPT_RESULT_LABELS.get(a.get("result"), a.get("result"))}
                for a in details.get("attempts") or ()]
    channels = [RELAUNCH_CHANNEL_LABELS.get(c, c) for c in details.get("channels") or ()]
    # The channels recorded as impossible, and why (files written before they were recorded carry none).
    impossible = [{"channel": RELAUNCH_CHANNEL_LABELS.get(i.get("channel"), i.get("channel")),
                   "reason": i.get("reason") or ""} for i in details.get("impossible") or ()]
    analysis = details.get("analysis") or {}
    return {
        "rule": "R17", "summary": RULE_SUMMARIES["R17"],
        "last_link_on": _day(details.get("last_link_on")), "silence_since": silence_since,
        "silence_months": _months(silence_since, today) if silence_since else None,
        "started_on": _day(details.get("relaunch_started_on")), "attempts": attempts,
        "channels": channels or sorted({a["channel"] for a in attempts if a["channel"]}),
        "impossible": impossible,
        "causes_examined": analysis.get("causes_examined"),
        "fragility_identified": analysis.get("fragility_identified"),
    }


def exit_dossier(context: dict[str, Any] | None, today: date | None = None) -> dict[str, Any] | None:
    """The file of an exit procedure, in French, or None when the task carries none."""
    proposal = (context or {}).get("exit")
    if not proposal:
        return None
    today = today or date.today()
    reason = proposal.get("reason", "")
    details = proposal.get("details") or {}
    refusal = rules.r15_r18_exit_refusal(reason, details)
    rule = ({"id": refusal.rule, "allows": False, "text": refusal.detail} if refusal
            else {"id": RULE_R15[0], "allows": True, "text": RULE_R15[1]})
    dossier: dict[str, Any] = {
        "reason": reason, "reason_label": proposal.get("label") or rules.EXIT_REASONS.get(reason, reason),
        "analysis": proposal.get("analysis") or "", "consultation": proposal.get("consultation") or "",
        "rule": rule, "r18": RULE_SUMMARIES["R18"], "details": [], "relaunch": None, "rights": None,
    }
    if reason == "disengagement":
        dossier["relaunch"] = _relaunch(details, today)
    elif reason == "non_renewal":
        dossier["rights"] = {"rule": "R19", "right": RIGHTS_LABELS.get(details.get("right"), details.get("right")),
                             "why": RIGHTS_WHY.get(details.get("why"), details.get("why")),
                             "on": _day(details.get("on"))}
    else:
        choice = details.get("person_choice") or {}
        rows = [(DETAIL_LABELS[key], _yes_no(details[key])) for key in DETAIL_LABELS if key in details]
        if choice:
            rows.append(("Choix exprimé par la personne",
                         " — ".join(str(part) for part in (choice.get("on"), choice.get("how")) if part)))
        dossier["details"] = rows
    return dossier
