"""R15: the summary a platform hands over with the file when a person moves to a département whose
platform is not on this installation (the person having consented). What the receiving platform needs
to go on without a break: who the person is and how to reach them, their rights, where the
accompaniment stands (since when, with whom, the shared evaluation, the job held), and the dates of
the last contact and of the next interview. The convention goes beside it as its own PDF."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import Session, select

from eaflow.activities.notify import SITUATION_LABELS
from eaflow.documents.render import render, to_pdf
from eaflow.store.accompaniment import EmploymentEpisode
from eaflow.store.convention import Convention, ConventionVersion
from eaflow.store.models import Journey, Person, Platform, SharedEvaluation, User

CONTRACT_LABELS = {"cdi": "CDI", "cdd": "CDD", "interim": "intérim", "alternance": "alternance", "pmsmp": "PMSMP",
                   "stage": "stage", "independent": "activité indépendante"}


def summary_pdf(session: Session, journey_id: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the handover summary of one journey."""
    journey = session.get(Journey, journey_id)
    if journey is None:
        raise LookupError(f"journey {journey_id} is not in the database")
    person = session.get(Person, journey_id)
    counsellor = session.get(User, journey.counsellor_id) if journey.counsellor_id else None
    jobs = session.exec(select(EmploymentEpisode).where(EmploymentEpisode.journey_id == journey_id,
                                                        EmploymentEpisode.ended_on.is_(None))
                        .order_by(EmploymentEpisode.started_on)).all()
    convention = session.exec(select(Convention).where(Convention.journey_id == journey_id)).first()
    fragment = render("handover.html.j2", journey=journey, person=person, counsellor=counsellor,
                      platform=session.get(Platform, journey.platform_id),
                      evaluation=session.get(SharedEvaluation, journey_id), jobs=jobs, convention=convention,
                      situation=SITUATION_LABELS.get(journey.situation, journey.situation),
                      contract_labels=CONTRACT_LABELS)
    data = to_pdf([fragment], title="Synthèse du dossier transmis", created=datetime.now(timezone.utc))
    return "synthese-dossier-emploi-accompagne.pdf", "application/pdf", data


def signed_convention_pdf(session: Session, journey_id: str) -> tuple[str, str, bytes] | None:
    """The journey's signed convention (its latest signed version), if it has one."""
    convention = session.exec(select(Convention).where(Convention.journey_id == journey_id)).first()
    version = session.get(ConventionVersion, convention.signed_version_id) if convention and \
        convention.signed_version_id else None
    if version is None or not version.signed_pdf:
        return None
    return f"convention-accompagnement-v{version.number}-signee.pdf", "application/pdf", version.signed_pdf
