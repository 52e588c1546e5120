"""The journey's states, their French labels and the transitions DOMAIN.md allows: one table.

The workflow moves only along these edges; the API shows the labels; the tests walk the table.
"""
from __future__ import annotations

from eaflow.workflows.types import JourneyState as S

LABELS: dict[S, str] = {
    S.prescribed: "Prescription reçue",
    S.eligibility: "Examen de l'éligibilité",
    S.consent: "Consentement recueilli",
    S.cdaph_notified: "CDAPH informée",
    S.waiting_list: "En liste d'attente",
    S.admitted: "Admise, conseiller désigné",
    S.convention: "Convention en cours de signature",
    S.accompaniment: "Accompagnement en cours",
    S.veille: "En veille",
    S.relaunch: "Relances en cours",
    S.exit_proposed: "Sortie proposée",
    S.exited: "Sortie du dispositif",
    S.transferred: "Transférée vers une autre plateforme",
    S.refused: "Prescription non retenue",
}

TRANSITIONS: dict[S, frozenset[S]] = {
    S.prescribed: frozenset({S.eligibility, S.consent, S.refused}),
    S.eligibility: frozenset({S.consent, S.refused}),
    # waiting_list at once, a SPE prescription's CDAPH information beside it (R2, R6); cdaph_notified only for
    # journeys recorded before that (entry.SPE_WAITING_LIST_AT_ONCE), which wait there as they did.
    S.consent: frozenset({S.cdaph_notified, S.waiting_list}),
    S.cdaph_notified: frozenset({S.waiting_list, S.exit_proposed}),  # exit_proposed: a death (R15), closed at once
    S.waiting_list: frozenset({S.admitted, S.exit_proposed}),
    S.admitted: frozenset({S.convention, S.exit_proposed}),
    S.convention: frozenset({S.accompaniment, S.exit_proposed}),
    S.accompaniment: frozenset({S.veille, S.relaunch, S.exit_proposed}),
    S.veille: frozenset({S.accompaniment, S.exit_proposed}),
    S.relaunch: frozenset({S.accompaniment, S.exit_proposed}),
    S.exit_proposed: frozenset({S.exited, S.transferred, S.waiting_list, S.admitted, S.convention, S.accompaniment,
                                S.veille, S.relaunch}),
    S.exited: frozenset(),
    S.transferred: frozenset(),
    S.refused: frozenset(),
}


def allowed(current: S, target: S) -> bool:
    return target in TRANSITIONS[current]


def label(state: str) -> str:
    return LABELS[S(state)]
