"""The domain rules of DOMAIN.md that a program can decide: pure functions of facts and a date.

No Temporal import: the workflows, the activities and the API all call these same functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Optional, Protocol

from eaflow.durations import Duration, duration_words
from eaflow.workflows.types import Channel, ConsentBy, IntakeFacts, Refusal, Situation

MINIMUM_AGE = 16
# §V.B.2: at most 20 persons accompanied per counsellor FTE (persons in veille not counted).
PERSONS_PER_FTE = 20
# L. 5212-13 items that open the BOE status for emploi accompagné: 5° excluded, 6°–8° repealed.
VALID_BOE_ITEMS = frozenset({"1°", "2°", "3°", "4°", "9°", "10°", "11°"})


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def normalise_boe_item(item: str) -> str:
    text = item.strip().replace("º", "°").replace("o", "°")
    return text if text.endswith("°") else f"{text}°"


def r1_eligibility(facts: IntakeFacts, today: date) -> list[Refusal]:
    """R1: 16 or older on the day of intake; RQTH in force (end date included) or a valid BOE item."""
    refusals: list[Refusal] = []
    age = age_on(facts.birth_date, today)
    if age < MINIMUM_AGE:
        refusals.append(Refusal(rule="R1", detail=(
            f"La personne a {max(age, 0)} ans au jour de la demande : l'emploi accompagné est ouvert "
            f"à partir de {MINIMUM_AGE} ans.")))
    rights = facts.rights
    rqth_ok = rights.rqth_permanent or (rights.rqth_until is not None and rights.rqth_until >= today)
    boe = normalise_boe_item(rights.boe_category) if rights.boe_category else None
    boe_ok = boe in VALID_BOE_ITEMS
    if not (rqth_ok or boe_ok):
        if boe == "5°":
            detail = ("Le 5° de l'article L. 5212-13 du code du travail n'ouvre pas droit à l'emploi "
                      "accompagné ; une RQTH en cours de validité est nécessaire.")
        elif boe is not None:
            detail = (f"Le {boe} de l'article L. 5212-13 n'ouvre pas droit à l'emploi accompagné "
                      "(seuls les 1° à 4° et 9° à 11° sont valables).")
        elif rights.rqth_until is not None:
            detail = (f"La RQTH a pris fin le {rights.rqth_until:%d/%m/%Y} : il faut une reconnaissance "
                      "de la qualité de travailleur handicapé en cours de validité, ou le statut de "
                      "bénéficiaire de l'obligation d'emploi.")
        else:
            detail = ("Aucune reconnaissance de la qualité de travailleur handicapé (RQTH) ni statut de "
                      "bénéficiaire de l'obligation d'emploi (BOE) n'est indiqué.")
        refusals.append(Refusal(rule="R1", detail=detail))
    return refusals


def r3_consent(facts: IntakeFacts) -> list[Refusal]:
    """R3: nothing starts without the consent of the person or of the legal representative."""
    if facts.consent is None:
        return [Refusal(rule="R3", detail=(
            "Le consentement de la personne (ou de son représentant légal) n'est pas recueilli : "
            "rien ne peut commencer sans lui."))]
    if facts.consent.by is ConsentBy.legal_representative and not facts.has_legal_representative:
        return [Refusal(rule="R3", detail=(
            "Le consentement est donné par un représentant légal, mais aucun représentant légal "
            "n'est indiqué pour la personne."))]
    return []


def r5_subsidiarity_missing(channel: str, subsidiarity_reason: str | None) -> bool:
    """R5: a CDAPH orientation that does not state why ordinary services do not suffice. The cahier des
    charges makes that statement the prescriber's (§III), not a condition of a CDAPH decision: such an
    orientation is accepted and the statement noted as missing; a SPE prescription must carry it."""
    return channel == Channel.cdaph.value and not (subsidiarity_reason or "").strip()


def r5_subsidiarity(facts: IntakeFacts) -> list[Refusal]:
    """R5: why ordinary services do not suffice (a SPE prescriber must say it; a CDAPH orientation
    without it is accepted and noted, see r5_subsidiarity_missing); what emploi accompagné adds to
    support funded elsewhere."""
    refusals: list[Refusal] = []
    if facts.channel.is_spe and not (facts.subsidiarity_reason or "").strip():
        refusals.append(Refusal(rule="R5", detail=(
            "Le prescripteur doit indiquer pourquoi les services de droit commun ne suffisent pas.")))
    if (facts.other_support or "").strip() and not (facts.other_support_justification or "").strip():
        refusals.append(Refusal(rule="R5", detail=(
            f"La personne bénéficie déjà d'un accompagnement financé par ailleurs ({facts.other_support.strip()}) : "
            "il faut justifier ce que l'emploi accompagné y ajoute.")))
    return refusals


def evaluate_intake(facts: IntakeFacts, today: date) -> list[Refusal]:
    """R1, R3, R5 on a well-formed prescription (R2's channel is enforced by the intake schema)."""
    return r1_eligibility(facts, today) + r3_consent(facts) + r5_subsidiarity(facts)


# R6: fast access, in this order; within a group, earliest prescription first.
PRIORITY_ORDER = (
    Situation.employed,
    Situation.about_to_be_hired,
    Situation.leaving_esat,
    Situation.seeking,
)


def r6_priority_group(situation: Situation) -> int:
    return PRIORITY_ORDER.index(Situation(situation))


def r6_waiting_list_key(situation: Situation, prescribed_on: date) -> str:
    """A sortable key: group first, then prescription date (lexicographic order = R6 order)."""
    return f"{r6_priority_group(situation)}-{prescribed_on.isoformat()}"


def r7_capacity(fte: float) -> float:
    return round(PERSONS_PER_FTE * fte, 6)


def r7_can_take_one_more(caseload: int, fte: float) -> Refusal | None:
    """R7: a counsellor's caseload (veille excluded) may not exceed 20 persons per FTE."""
    capacity = r7_capacity(fte)
    if caseload + 1 > capacity:
        persons = f"{caseload} personne{'s' if caseload > 1 else ''}"
        return Refusal(rule="R7", detail=(
            f"Ce conseiller accompagne déjà {persons} pour une capacité de "
            f"{capacity:g} ({PERSONS_PER_FTE} par équivalent temps plein, {f'{fte:g}'.replace('.', ',')} ETP) : "
            "choisissez un autre conseiller ou laissez la personne en liste d'attente."))
    return None


# R7: a person with a counsellor counts in the caseload, except in veille or once the journey ended.
NOT_IN_CASELOAD = frozenset({"veille", "exited", "transferred", "refused"})


def r7_counts_in_caseload(state: str) -> bool:
    return state not in NOT_IN_CASELOAD


# R10: the convention is concluded with the person (or representative) "et le cas échéant l'employeur"
# (§II, §IV.C): the employer of a person in employment is a party, and signs; a self-employed person
# signs as their own employer. "Sur le point d'être embauchée" is not yet employed: the employer
# becomes a party when the job is recorded (an open episode) or, after signature, by an avenant.
def r10_employed_for_convention(situation: Situation | str, employed_now: bool | None) -> bool:
    """Whether the person is in employment when the convention is drafted. `employed_now` is what the
    file's employment episodes say (R16; PMSMP and internships are not employment): True with an open
    episode, False when every episode recorded has ended, None when none was recorded since intake,
    in which case the situation at intake decides."""
    if employed_now is not None:
        return bool(employed_now)
    return Situation(situation) is Situation.employed


def r10_employer_party_refusal(situation: Situation | str, employed_now: bool | None,
                               employer: dict | None) -> Refusal | None:
    """R10: the draft of a person in employment names the employer, with a signatory unless the
    person is self-employed (then they sign as their own employer)."""
    if not r10_employed_for_convention(situation, employed_now):
        return None
    if not employer or not (employer.get("name") or "").strip():
        return Refusal(rule="R10", detail=(
            "La personne est en emploi : son employeur est partie à la convention. Indiquez l'employeur et "
            "la personne qui signe pour lui (ou « travailleur non salarié » si elle travaille à son compte)."))
    if not employer.get("self_employed") and not employer.get("signatory"):
        return Refusal(rule="R10", detail=(
            "L'employeur signe la convention par son représentant : indiquez le signataire pour l'employeur."))
    return None


# R11: intensity, from the hours of accompaniment of one calendar month (§V.B.3: "intensif : plus
# de 12 h/mois ; régulier : de 8 à 12 h/mois ; suivi : de 2 à 8 h/mois ; allégé : moins de 2 h/mois").
R11_INTENSIF_ABOVE = 12 * 60  # minutes: intensif is strictly more than 12 h
R11_REGULIER_FROM = 8 * 60  # régulier: from 8 h to 12 h, both included
R11_SUIVI_FROM = 2 * 60  # suivi: from 2 h included to 8 h excluded; allégé: under 2 h
INTENSITY_LABELS = {"intensif": "Intensif", "regulier": "Régulier", "suivi": "Suivi", "allege": "Allégé"}


def r11_intensity_level(minutes: int) -> str:
    """R11: the level that `minutes` of accompaniment in one calendar month make.

    more than 720 min (12 h) intensif · 480 to 720 min régulier · 120 to 479 min suivi ·
    under 120 min allégé. "De 8 à 12 h" includes both its ends: 12 h exactly is régulier (intensif
    is *more than* 12 h) and 8 h exactly is régulier too, so "de 2 à 8 h" stops just under 8 h;
    2 h exactly is suivi (allégé is *under* 2 h). Minutes are whole, so 12 h 01 is intensif and
    7 h 59 suivi.
    """
    if minutes < 0:
        raise ValueError("a month cannot hold negative minutes")
    if minutes > R11_INTENSIF_ABOVE:
        return "intensif"
    if minutes >= R11_REGULIER_FROM:
        return "regulier"
    if minutes >= R11_SUIVI_FROM:
        return "suivi"
    return "allege"


def r11_label(level: str) -> str:
    return INTENSITY_LABELS[level]


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_from(first: date, last: date) -> list[date]:
    """Every calendar month from the month of `first` to the month of `last`, both included."""
    months, month = [], month_start(first)
    while month <= month_start(last):
        months.append(month)
        month = next_month(month)
    return months


class RecordedContact(Protocol):
    """What R11 reads of a contact (the `contact` table's row has these attributes)."""

    occurred_on: date
    duration_minutes: int
    place: str
    reached: bool
    deleted_at: Optional[datetime]


def r11_accompaniment_minutes(contact: RecordedContact) -> int:
    """The minutes a contact adds to its month. A deleted contact adds nothing; nor does an attempt
    that did not reach anyone (`reached` false): R11 counts hours of accompaniment, and an
    unanswered call is not accompaniment time, whatever duration was typed. A contact that took
    place counts whoever took part (person, employer, partner): the accompaniment is for the
    person and for the employer alike (§II)."""
    if contact.deleted_at is not None or not contact.reached:
        return 0
    return contact.duration_minutes


@dataclass(frozen=True)
class MonthIntensity:
    month: date  # the first day of the calendar month
    minutes: int
    workplace_minutes: int  # R13: the part spent at the workplace, summed for the indicators

    @property
    def level(self) -> str:
        return r11_intensity_level(self.minutes)

    @property
    def label(self) -> str:
        return r11_label(self.level)

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)

    @property
    def workplace_hours(self) -> float:
        return round(self.workplace_minutes / 60, 2)


def monthly_intensity(contacts: Iterable[RecordedContact], first_month: date,
                      last_month: date) -> list[MonthIntensity]:
    """R11, R13: every calendar month from `first_month` to `last_month` (any day of each; both
    included), months without a contact too (0 min, allégé), with the accompaniment minutes of the
    contacts that fall in it (see r11_accompaniment_minutes) and the part spent at the workplace.
    Contacts outside the range are ignored."""
    months = months_from(first_month, last_month)
    minutes = dict.fromkeys(months, 0)
    workplace = dict.fromkeys(months, 0)
    for contact in contacts:
        month = month_start(contact.occurred_on)
        if month in minutes:
            counted = r11_accompaniment_minutes(contact)
            minutes[month] += counted
            if contact.place == "workplace":
                workplace[month] += counted
    return [MonthIntensity(month=m, minutes=minutes[m], workplace_minutes=workplace[m]) for m in months]


# R14: a veille only with the person's formal agreement, its end written and strictly bounded, its
# reactivation conditions stated (§IV.D). Shared by the API and the journey's validator.
VEILLE_REQUESTED_BY = ("person", "counsellor_proposal")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre")


def french_date(day: date) -> str:
    """'1er mars 2026', '3 septembre 2026'."""
    return f"{'1er' if day.day == 1 else day.day} {_MONTHS[day.month - 1]} {day.year}"


def r14_veille_latest_end(first_day: date, max_duration: str) -> date:
    """R14: the last end a veille that began on `first_day` may have, extensions included: §IV.D makes
    the veille "strictement limitée dans le temps", so the policy's `[veille] max_duration` bounds the
    whole period from its first day, not each agreement from its own."""
    return Duration.parse(max_duration).from_date(first_day)


def r14_veille_refusals(*, agreement_on: date | None, until: date | None, reactivation_conditions: str,
                        starts_on: date, max_duration: str, veille_since: date | None = None) -> list[dict[str, str]]:
    """Field errors that refuse a veille (empty when R14 allows it). `starts_on` is the day of this
    agreement; `veille_since` the first day of the veille in progress when the agreement extends it
    (None for a first start). The whole period, the first start and every extension together, lasts
    at most the policy's `max_duration` from its first day."""
    errors = []
    if agreement_on is None:
        errors.append({"field": "agreement", "message": "l'accord formel de la personne (date et forme) est "
                                                        "obligatoire pour une mise en veille"})
    elif agreement_on > starts_on:
        errors.append({"field": "agreement.on", "message": "l'accord de la personne doit précéder la mise en veille"})
    first_day = veille_since or starts_on
    latest_end = r14_veille_latest_end(first_day, max_duration)
    if until is None:
        errors.append({"field": "until", "message": "la date de fin convenue est obligatoire : une veille est "
                                                    "strictement bornée dans le temps"})
    elif until <= starts_on:
        errors.append({"field": "until", "message": "la date de fin doit être postérieure au début de la veille"})
    elif until > latest_end:
        began = "a commencé" if veille_since is not None else "commence"
        may = "peut" if veille_since is not None else "pourra"
        errors.append({"field": "until", "message": (
            f"La veille {began} le {french_date(first_day)} : prolongations comprises, elle ne {may} pas "
            f"dépasser le {french_date(latest_end)} ({duration_words(max_duration)}, R14).")})
    if not (reactivation_conditions or "").strip():
        errors.append({"field": "reactivation_conditions",
                       "message": "les conditions de réactivation de l'accompagnement doivent être écrites"})
    return errors


# R15: the only reasons an accompaniment may end (§IV.E), with their French labels.
EXIT_REASONS = {
    "person_request": "demande explicite de la personne",
    "move": "déménagement dans un territoire sans plateforme",
    "non_renewal": "non-renouvellement de la RQTH ou de la décision de la CDAPH",
    "disengagement": "désengagement manifeste et durable",
    "reorientation": "réorientation choisie par la personne",
    "death": "décès (clôture administrative)",
}
# R18: never an exit reason. Health calls for a veille; the platform never decides an exit alone.
HEALTH_REASON = "health"
PLATFORM_INITIATED_REASONS = frozenset({"platform_decision", "stable_situation", "capacity", "behaviour",
                                        "end_of_funding"})
# Proposed by the journey's own procedures, never directly through the API.
PROCEDURE_ONLY_REASONS = {"disengagement": "R17", "non_renewal": "R19"}


def r15_r18_exit_refusal(reason: str, details: dict) -> Refusal | None:
    """Why an exit proposal is refused (None when R15 and R18 allow it)."""
    if reason == HEALTH_REASON:
        return Refusal(rule="R18", detail=(
            "L'état de santé n'est jamais un motif de sortie du dispositif. Si la personne a besoin de "
            "suspendre l'accompagnement, une mise en veille peut lui être proposée, avec son accord, pour une "
            "durée convenue (POST /api/v1/journeys/{id}/veille)."))
    if reason in PLATFORM_INITIATED_REASONS:
        return Refusal(rule="R18", detail=(
            "La plateforme ne décide jamais seule d'une sortie : seuls les motifs prévus par le cahier des "
            "charges (demande de la personne, déménagement, non-renouvellement des droits, désengagement "
            "durable, décès) permettent de proposer une sortie."))
    if reason not in EXIT_REASONS:
        return Refusal(rule="R15", detail=f"Motif de sortie inconnu : {reason}.")
    if reason == "reorientation" and not (details.get("person_choice") or {}).get("on"):
        return Refusal(rule="R18", detail=(
            "Une réorientation (ESAT, entreprise adaptée, SIAE…) n'est une sortie que sur le choix explicite de "
            "la personne : indiquez quand et comment elle l'a exprimé (details.person_choice)."))
    if reason == "person_request" and not (details.get("informed") and details.get("low_intensity_offered")):
        return Refusal(rule="R15", detail=(
            "Une sortie à la demande de la personne suppose qu'elle ait été informée des conséquences de sa "
            "décision et qu'un accompagnement de faible intensité lui ait été proposé (details.informed, "
            "details.low_intensity_offered)."))
    if reason == "move" and not details.get("department"):
        return Refusal(rule="R15", detail="Indiquez le département où la personne s'installe (details.department).")
    return None


# ---- R17: the relaunch sequence's channels ----
# How an attempt by each of R17's channels is recorded as a contact (R13): (contact channel, place).
R17_AS_CONTACT: dict[str, tuple[str, str]] = {
    "phone": ("phone", "service"),
    "letter": ("letter", "service"),
    "mail": ("mail", "service"),
    "third_party": ("third_party", "service"),
    "home_visit": ("in_person", "home"),
}


def r17_channel_of(channel: str, place: str) -> str | None:
    """The R17 channel of a recorded contact: an SMS is a solicitation by phone, an attempt in person at
    home a home visit; a video call or an attempt in person elsewhere is none of R17's channels."""
    if channel == "sms":
        return "phone"
    if channel == "in_person":
        return "home_visit" if place == "home" else None
    return channel if channel in R17_AS_CONTACT else None


def r17_contact_fields(channel: str, reached: bool) -> dict[str, str]:
    """The contact (R13) that records an attempt: where, how and who took part. A trusted third party
    reached without the person is a partner; the person reached is the link again."""
    contact_channel, place = R17_AS_CONTACT[channel]
    participants = "person" if reached or channel != "third_party" else "partner"
    return {"channel": contact_channel, "place": place, "participants": participants}


def r17_channels(attempts: Iterable) -> list[str]:
    """The distinct R17 channels of a list of attempts (anything with `channel` and `place`), sorted."""
    return sorted({c for a in attempts if (c := r17_channel_of(a.channel, a.place)) is not None})


# §IV.E lists them: « téléphone, courrier, courriel, tiers de confiance et déplacement au domicile ».
R17_CHANNELS: tuple[str, ...] = tuple(R17_AS_CONTACT)


def r17_channels_owed(tried: Iterable[str], impossible: Iterable[str] = ()) -> list[str]:
    """The R17 channels still owed before the silence may be examined: every one of the five, less those
    tried and those recorded as impossible (with why), in the text's order. Empty: all were solicited."""
    done = set(tried) | set(impossible)
    return [c for c in R17_CHANNELS if c not in done]
