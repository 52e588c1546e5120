"""The person's profile at entry and their employers' descriptions, as the funders' indicators need them
(R9, R20; cahier des charges §V.A.6 3° "éloignement à l'emploi" and 4° "répartition des employeurs",
§VI.A): every closed list with its French labels, once, and the bands the indicators report.

The profile is recorded at the shared evaluation (R9), where it is naturally known, and every item of it
is optional: a journey evaluated before these lists existed, or a person who would rather not say,
counts as "non renseigné". Health data are kept to what the text asks (R22): the nature of the
disability by its categories, no diagnosis.

This module is pure (no database, no clock): the outcome models of the workflows import it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

NOT_RECORDED = "not_recorded"
NOT_RECORDED_LABEL = "non renseigné"

# §V.A.6 3° "nature du handicap", the text's categories (one choice).
DISABILITY_NATURES: Mapping[str, str] = {
    "psychique": "Handicap psychique",
    "tsa": "Troubles du spectre de l'autisme (TSA)",
    "tdi": "Trouble du développement intellectuel",
    "cognitif": "Troubles cognitifs",
    "sensoriel": "Handicap sensoriel",
    "moteur": "Handicap moteur",
    "multiple": "Handicaps multiples",
    "autre": "Autre",
}

# §V.A.6 3° "niveau de formation initiale": the national nomenclature of diploma levels (décret
# n° 2019-14 du 8 janvier 2019), levels 1 and 2 (savoirs de base) with no diploma.
EDUCATION_LEVELS: Mapping[str, str] = {
    "below_3": "Sans diplôme, ou niveaux 1 et 2 (savoirs de base)",
    "level_3": "Niveau 3 : CAP, BEP",
    "level_4": "Niveau 4 : baccalauréat",
    "level_5": "Niveau 5 : bac + 2 (BTS, DUT, DEUST)",
    "level_6": "Niveau 6 : bac + 3 ou 4 (licence, BUT, maîtrise)",
    "level_7": "Niveau 7 : bac + 5 (master, diplôme d'ingénieur)",
    "level_8": "Niveau 8 : doctorat",
}

# §V.A.6 3° "statut administratif à l'entrée": the person's own status, finer than the situation the
# prescription states (R6).
STATUSES_AT_ENTRY: Mapping[str, str] = {
    "job_seeker": "Demandeur d'emploi",
    "esat_worker": "Travailleur d'ESAT",
    "employee": "Salarié",
    "self_employed": "Travailleur indépendant",
    "student": "Étudiant ou en formation",
    "inactive": "Inactif",
    "other": "Autre",
}

# §VI.A "accompagnement médico-social complémentaire" (one or several; "none" alone).
MEDICO_SOCIAL_SUPPORTS: Mapping[str, str] = {
    "none": "Aucun",
    "samsah": "SAMSAH (service d'accompagnement médico-social pour adultes handicapés)",
    "savs": "SAVS (service d'accompagnement à la vie sociale)",
    "health_follow_up": "Suivi sanitaire (CMP, psychiatre, hôpital de jour…)",
    "other": "Autre accompagnement",
}
NO_SUPPORT = "none"

# §V.A.6 4° "répartition des employeurs": the sections of the NAF rév. 2 (INSEE).
NAF_SECTIONS: Mapping[str, str] = {
    "A": "A — Agriculture, sylviculture et pêche",
    "B": "B — Industries extractives",
    "C": "C — Industrie manufacturière",
    "D": "D — Production et distribution d'électricité, de gaz, de vapeur et d'air conditionné",
    "E": "E — Production et distribution d'eau ; assainissement, gestion des déchets et dépollution",
    "F": "F — Construction",
    "G": "G — Commerce ; réparation d'automobiles et de motocycles",
    "H": "H — Transports et entreposage",
    "I": "I — Hébergement et restauration",
    "J": "J — Information et communication",
    "K": "K — Activités financières et d'assurance",
    "L": "L — Activités immobilières",
    "M": "M — Activités spécialisées, scientifiques et techniques",
    "N": "N — Activités de services administratifs et de soutien",
    "O": "O — Administration publique",
    "P": "P — Enseignement",
    "Q": "Q — Santé humaine et action sociale",
    "R": "R — Arts, spectacles et activités récréatives",
    "S": "S — Autres activités de services",
    "T": "T — Activités des ménages en tant qu'employeurs",
    "U": "U — Activités extra-territoriales",
}

# The employer's size, by the INSEE's bands of employees (grouped as the categories of firms:
# micro, small, medium, intermediate, large).
SIZE_BANDS: Mapping[str, str] = {
    "0_9": "Moins de 10 salariés",
    "10_49": "De 10 à 49 salariés",
    "50_249": "De 50 à 249 salariés",
    "250_4999": "De 250 à 4 999 salariés",
    "5000_plus": "5 000 salariés et plus",
}

# Time without employment before entry, in months: [from, to) of each band. A person whose lifetime
# in employment is recorded as 0 has never worked: counted apart, left out of the mean.
NEVER_WORKED = "never_worked"
MONTHS_WITHOUT_EMPLOYMENT_BANDS: Mapping[str, tuple[int, Optional[int]]] = {
    "lt_6_months": (0, 6), "6_to_12_months": (6, 12), "1_to_2_years": (12, 24), "2_to_5_years": (24, 60),
    "5_years_or_more": (60, None),
}
MONTHS_WITHOUT_EMPLOYMENT_LABELS: Mapping[str, str] = {
    "lt_6_months": "moins de 6 mois", "6_to_12_months": "de 6 mois à moins d'un an",
    "1_to_2_years": "de 1 an à moins de 2 ans", "2_to_5_years": "de 2 ans à moins de 5 ans",
    "5_years_or_more": "5 ans et plus", NEVER_WORKED: "n'a jamais travaillé",
}

# Estimated total time in employment over the working life, in years: [from, to) of each band.
EMPLOYMENT_YEARS_BANDS: Mapping[str, tuple[float, Optional[float]]] = {
    "none": (0, 0), "lt_1_year": (0, 1), "1_to_5_years": (1, 5), "5_to_10_years": (5, 10),
    "10_to_20_years": (10, 20), "20_years_or_more": (20, None),
}
EMPLOYMENT_YEARS_LABELS: Mapping[str, str] = {
    "none": "aucune (n'a jamais travaillé)", "lt_1_year": "moins d'un an", "1_to_5_years": "de 1 an à moins de 5 ans",
    "5_to_10_years": "de 5 ans à moins de 10 ans", "10_to_20_years": "de 10 ans à moins de 20 ans",
    "20_years_or_more": "20 ans et plus",
}

MAX_MONTHS_WITHOUT_EMPLOYMENT = 720  # 60 years
MAX_EMPLOYMENT_YEARS = 60


def band_of(value: float, bands: Mapping[str, tuple[float, Optional[float]]]) -> str:
    """The band a value falls in: the first whose [from, to) holds it; (0, 0) holds exactly 0."""
    for key, (low, high) in bands.items():
        if (low == high == value) or (low <= value and (high is None or value < high) and low != high):
            return key
    raise ValueError(f"{value} is in no band")


def months_without_employment_band(months: int, lifetime_years: Optional[float]) -> str:
    """The band of the time without employment before entry; "never worked" when the lifetime in
    employment is recorded as none."""
    if lifetime_years == 0:
        return NEVER_WORKED
    return band_of(months, MONTHS_WITHOUT_EMPLOYMENT_BANDS)


def with_capital(text: str) -> str:
    return text[:1].upper() + text[1:]
