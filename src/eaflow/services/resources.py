"""R20 group 2, "ressources mobilisées": the declaration a platform's managers make for one calendar year
(store/resources.py says what is declared per quarter, what per year, and why). Read and written here
once, for `GET/PUT /api/v1/platform-resources/{year}` and the page "Ressources de la plateforme".

The declaration of a year, as the API and the page exchange it (each part `null`: not declared):

    {"quarters": {"1": {"total_fte": 5.5,
                        "fte_by_mission": {"accompaniment": 4, "coordination": 0.5,
                                           "management": 0.5, "partnerships": 0.5},
                        "title_holders": 2, "title_in_training": 1},
                  "2": null, "3": null, "4": null},
     "funding": {"state": 120000, "agefiph": 80000, "fiphp": 10000, "other": 5000,
                 "other_label": "Conseil départemental"},
     "trainings": [{"status": "delivered", "nature": "Job coaching", "count": 2},
                   {"status": "planned", "nature": "Méthode IPS", "count": 1}]}

A PUT replaces the whole year. Every error names its field (`quarters.1.fte_by_mission` when the missions
do not add up to the total FTE) and nothing is written. Numbers may come as JSON numbers or as French
text ("0,5", "120 000"), so the page hands over what was typed and the checks are these only.
Managers write; the chef de file transmits the platform's data (§V.A.6), so a co-porteur's managers read
the declaration but do not change it. Each change is in the audit trail (`platform_resources_declared`,
before and after), as other changes of the platform are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlmodel import Session, select

from eaflow.services import roles
from eaflow.services.admin_audit import audit_account
from eaflow.services.db import db_scope
from eaflow.services.operators import operator_scope
from eaflow.services.refusals import Refusal
from eaflow.settings import Settings
from eaflow.store.models import User
from eaflow.store.resources import (
    FUNDING_SOURCES,
    MISSION_LABELS,
    MISSIONS,
    TRAINING_STATUSES,
    ResourceQuarter,
    ResourceTraining,
    ResourceYear,
)

FIRST_YEAR = 2017  # the first platforms (loi du 8 août 2016, décret du 27 décembre 2016)
QUARTERS = ("1", "2", "3", "4")
MAX_FTE = 1000.0
MAX_PERSONS = 10000
MAX_EUROS = 1_000_000_000
MAX_TEXT = 200
MAX_TRAININGS = 100
FTE_TOLERANCE = 0.005
READ_ONLY = ("year", "declared_at")
REFUSED = "La déclaration des ressources n'est pas enregistrée : corrigez les champs signalés."
LEAD_ONLY = ("Seuls les responsables du chef de file déclarent les ressources de la plateforme : c'est lui qui "
             "transmet ses données.")


def today() -> date:
    return datetime.now(timezone.utc).date()


# ---------------------------------------------------------------------------------------- checks

@dataclass
class Staff:
    total_fte: float
    fte_by_mission: dict[str, float]
    title_holders: int
    title_in_training: int


@dataclass
class Declaration:
    """A year's declaration, checked: amounts in cents."""

    quarters: dict[int, Staff] = field(default_factory=dict)
    funding: Optional[dict[str, Any]] = None  # source → cents, "other_label"
    trainings: Optional[list[tuple[str, str, int]]] = None  # (status, nature, count)


class _Errors(list):
    def add(self, field_: str, message: str) -> None:
        self.append({"field": field_, "message": message})


def _number(value: Any, path: str, errors: _Errors, *, what: str) -> Optional[float]:
    """A JSON number, or French text ("0,5", "120 000"); None (with an error) otherwise."""
    if isinstance(value, bool) or value is None or value == "":
        errors.add(path, f"Indiquez {what}.")
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        typed = "".join(value.split()).replace("\u202f", "").replace(",", ".")
        try:
            number = float(typed)
        except ValueError:
            errors.add(path, f"Indiquez {what} en chiffres, par exemple 0,5.")
            return None
    else:
        errors.add(path, f"Indiquez {what} en chiffres.")
        return None
    if not math.isfinite(number) or number < 0:
        errors.add(path, f"Indiquez {what} : un nombre positif ou nul.")
        return None
    return number


def _count(value: Any, path: str, errors: _Errors, *, what: str, least: int = 0) -> Optional[int]:
    number = _number(value, path, errors, what=what)
    if number is None:
        return None
    if number != int(number) or number < least or number > MAX_PERSONS:
        errors.add(path, f"Indiquez {what} : un nombre entier de {least} à {MAX_PERSONS}.")
        return None
    return int(number)


def _object(value: Any, path: str, errors: _Errors, keys: tuple[str, ...]) -> Optional[dict]:
    if not isinstance(value, dict):
        errors.add(path, "Attendu : un objet JSON.")
        return None
    for key in value:
        if key not in keys:
            errors.add(f"{path}.{key}" if path else key, "Champ inconnu.")
    return value


def _staff(value: Any, path: str, errors: _Errors) -> Optional[Staff]:
    raw = _object(value, path, errors, ("total_fte", "fte_by_mission", "title_holders", "title_in_training"))
    if raw is None:
        return None
    before = len(errors)
    of = f"du trimestre {path.rsplit('.', 1)[1]}"
    total = _number(raw.get("total_fte"), f"{path}.total_fte", errors, what=f"l'ETP total {of}")
    if total is not None and not 0 < total <= MAX_FTE:
        errors.add(f"{path}.total_fte", f"L'ETP total {of} doit être supérieur à 0 et d'au plus {MAX_FTE:g}.")
    missions: dict[str, float] = {}
    split = _object(raw.get("fte_by_mission"), f"{path}.fte_by_mission", errors, MISSIONS)
    if split is not None:
        for mission in MISSIONS:
            fte = _number(split.get(mission), f"{path}.fte_by_mission.{mission}", errors,
                          what=f"les ETP « {MISSION_LABELS[mission]} » {of}")
            if fte is not None:
                missions[mission] = round(fte, 2)
    holders = _count(raw.get("title_holders"), f"{path}.title_holders", errors,
                     what=f"le nombre de professionnels titulaires du titre {of}")
    training = _count(raw.get("title_in_training", 0), f"{path}.title_in_training", errors,
                      what=f"le nombre de professionnels qui préparent le titre {of}")
    if len(errors) > before:
        return None
    total = round(total, 2)
    if abs(sum(missions.values()) - total) > FTE_TOLERANCE:
        written = " + ".join(_fr(missions[m]) for m in MISSIONS)
        errors.add(f"{path}.fte_by_mission", f"Les ETP par mission {of} ({written} = {_fr(sum(missions.values()))}) "
                                             f"doivent faire l'ETP total ({_fr(total)}).")
        return None
    return Staff(total, missions, holders, training)


def _fr(number: float) -> str:
    return f"{round(number, 2):g}".replace(".", ",")


def _cents(value: Any, path: str, errors: _Errors) -> Optional[int]:
    euros = _number(value, path, errors, what="le montant en euros (0 si aucun)")
    if euros is None:
        return None
    cents = round(euros * 100)
    if abs(euros * 100 - cents) > 1e-6 or euros > MAX_EUROS:
        errors.add(path, "Indiquez un montant en euros, au plus deux décimales.")
        return None
    return cents


def _funding(value: Any, errors: _Errors) -> Optional[dict[str, Any]]:
    raw = _object(value, "funding", errors, (*FUNDING_SOURCES, "other_label"))
    if raw is None:
        return None
    funding: dict[str, Any] = {source: _cents(raw.get(source), f"funding.{source}", errors)
                               for source in FUNDING_SOURCES}
    label = " ".join(str(raw.get("other_label") or "").split())
    if len(label) > MAX_TEXT:
        errors.add("funding.other_label", f"Au plus {MAX_TEXT} caractères.")
    elif funding["other"] and not label:
        errors.add("funding.other_label", "Indiquez qui apporte les autres financements.")
    funding["other_label"] = label
    return funding


def _trainings(value: Any, errors: _Errors) -> Optional[list[tuple[str, str, int]]]:
    if not isinstance(value, list):
        errors.add("trainings", "Attendu : une liste (vide si aucune formation).")
        return None
    if len(value) > MAX_TRAININGS:
        errors.add("trainings", f"Au plus {MAX_TRAININGS} formations.")
        return None
    found, seen = [], set()
    for index, item in enumerate(value):
        path = f"trainings.{index}"
        raw = _object(item, path, errors, ("status", "nature", "count"))
        if raw is None:
            continue
        status = raw.get("status")
        if status not in TRAINING_STATUSES:
            errors.add(f"{path}.status", "Indiquez « delivered » (délivrée dans l'année) ou « planned » "
                                         "(prévue pour l'année à suivre).")
        nature = " ".join(str(raw.get("nature") or "").split())
        if not nature:
            errors.add(f"{path}.nature", f"Indiquez la nature de la formation {index + 1}.")
        elif len(nature) > MAX_TEXT:
            errors.add(f"{path}.nature", f"Au plus {MAX_TEXT} caractères.")
        elif (status, nature.casefold()) in seen:
            errors.add(f"{path}.nature", "Cette formation est déjà indiquée : additionnez leur nombre.")
        seen.add((status, nature.casefold()))
        count = _count(raw.get("count"), f"{path}.count", errors, what=f"le nombre de la formation {index + 1}",
                       least=1)
        found.append((status, nature, count))
    return found


def check(year: int, payload: Any, on: date) -> Declaration:
    """The declaration of `year` (see the module's docstring), or a 422 Refusal naming every bad field."""
    errors = _Errors()
    if not FIRST_YEAR <= year <= on.year + 1:
        raise Refusal(422, REFUSED, errors=[{"field": "year", "message": f"Choisissez une année de {FIRST_YEAR} à "
                                                                         f"{on.year + 1}."}])
    raw = _object(payload, "", errors, ("quarters", "funding", "trainings", *READ_ONLY))
    if raw is None:
        raise Refusal(422, REFUSED, errors=[{"field": "body", "message": "Attendu : un objet JSON."}])
    if raw.get("year") not in (None, year):
        errors.add("year", "L'année du document ne correspond pas à celle de l'adresse.")
    declaration = Declaration()
    quarters = raw.get("quarters") or {}
    if _object(quarters, "quarters", errors, QUARTERS) is not None:
        for number in QUARTERS:
            if quarters.get(number) is None:
                continue
            if date(year, 3 * int(number) - 2, 1) > on:
                errors.add(f"quarters.{number}", "Ce trimestre n'a pas commencé : ses ETP se déclarent une fois "
                                                 "commencé.")
                continue
            staff = _staff(quarters[number], f"quarters.{number}", errors)
            if staff is not None:
                declaration.quarters[int(number)] = staff
    if raw.get("funding") is not None:
        declaration.funding = _funding(raw["funding"], errors)
    if raw.get("trainings") is not None:
        declaration.trainings = _trainings(raw["trainings"], errors)
    if errors:
        raise Refusal(422, REFUSED, errors=list(errors))
    return declaration


# ---------------------------------------------------------------------------------------- read, write

def _rows(session: Session, platform_id: str, year: int):
    quarters = {row.quarter: row for row in session.exec(select(ResourceQuarter).where(
        ResourceQuarter.platform_id == platform_id, ResourceQuarter.year == year)).all()}
    year_row = session.exec(select(ResourceYear).where(ResourceYear.platform_id == platform_id,
                                                       ResourceYear.year == year)).first()
    trainings = [] if year_row is None else list(session.exec(select(ResourceTraining).where(
        ResourceTraining.resource_year_id == year_row.id).order_by(ResourceTraining.id)).all())
    return quarters, year_row, trainings


def _euros(cents: int) -> float | int:
    return cents // 100 if cents % 100 == 0 else cents / 100


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _view(session: Session, platform_id: str, year: int) -> dict[str, Any]:
    quarters, year_row, trainings = _rows(session, platform_id, year)
    moments = [row.declared_at for row in quarters.values()] + ([year_row.declared_at] if year_row else [])
    return {
        "year": year,
        "quarters": {str(n): None if n not in quarters else {
            "total_fte": quarters[n].total_fte,
            "fte_by_mission": {m: quarters[n].fte_of(m) for m in MISSIONS},
            "title_holders": quarters[n].title_holders, "title_in_training": quarters[n].title_in_training,
        } for n in range(1, 5)},
        "funding": None if year_row is None or not year_row.funding_declared else {
            **{source: _euros(year_row.cents_of(source)) for source in FUNDING_SOURCES},
            "other_label": year_row.funding_other_label},
        "trainings": None if year_row is None or not year_row.trainings_declared else [
            {"status": t.status, "nature": t.nature, "count": t.count} for t in trainings],
        "declared_at": max(_aware(m) for m in moments).isoformat() if moments else None,
    }


def _platform(user: User) -> str:
    roles.check(user, roles.MANAGERS)
    if not user.platform_id:
        raise Refusal(404, "Votre compte n'est rattaché à aucune plateforme.")
    return user.platform_id


def may_declare(settings: Settings, user: User) -> bool:
    """A manager of the chef de file (or of no operator) declares; a co-porteur's managers read."""
    _platform(user)
    with db_scope(settings) as session:
        return operator_scope(session, user) is None


def declaration_of(settings: Settings, user: User, year: int, on: Optional[date] = None) -> dict[str, Any]:
    """The declaration of `year` as it stands (every part null when nothing was declared)."""
    platform_id = _platform(user)
    on = on or today()
    if not FIRST_YEAR <= year <= on.year + 1:
        raise Refusal(422, REFUSED, errors=[{"field": "year", "message": f"Choisissez une année de {FIRST_YEAR} à "
                                                                         f"{on.year + 1}."}])
    with db_scope(settings) as session:
        return _view(session, platform_id, year)


def declare(settings: Settings, user: User, year: int, payload: Any, on: Optional[date] = None) -> dict[str, Any]:
    """Replace the declaration of `year` (checked first: a refusal writes nothing), audited."""
    platform_id = _platform(user)
    declaration = check(year, payload, on or today())
    with db_scope(settings) as session:
        if operator_scope(session, user) is not None:
            raise Refusal(403, LEAD_ONLY)
        before = _view(session, platform_id, year)
        _write(session, platform_id, year, declaration, user.id)
        session.flush()
        after = _view(session, platform_id, year)
        changes = {key: [before[key], after[key]] for key in ("quarters", "funding", "trainings")
                   if before[key] != after[key]}
        if changes:
            audit_account(session, "platform_resources_declared", actor_id=user.id, platform_id=platform_id,
                          year=year, changes=changes)
        return after


def _write(session: Session, platform_id: str, year: int, declaration: Declaration, user_id: str) -> None:
    quarters, year_row, trainings = _rows(session, platform_id, year)
    for number, row in quarters.items():
        if number not in declaration.quarters:
            session.delete(row)
    for number, staff in declaration.quarters.items():
        row = quarters.get(number) or ResourceQuarter(platform_id=platform_id, year=year, quarter=number,
                                                      total_fte=0, fte_accompaniment=0, fte_coordination=0,
                                                      fte_management=0, fte_partnerships=0, title_holders=0)
        changed = (row.total_fte, row.title_holders, row.title_in_training, *(row.fte_of(m) for m in MISSIONS)) != (
            staff.total_fte, staff.title_holders, staff.title_in_training, *(staff.fte_by_mission[m] for m in MISSIONS))
        row.total_fte, row.title_holders, row.title_in_training = (staff.total_fte, staff.title_holders,
                                                                   staff.title_in_training)
        for mission in MISSIONS:
            setattr(row, f"fte_{mission}", staff.fte_by_mission[mission])
        if changed or row.id is None:
            row.declared_at, row.declared_by = datetime.now(timezone.utc), user_id
        session.add(row)
    for training in trainings:
        session.delete(training)
    if declaration.funding is None and declaration.trainings is None:
        if year_row is not None:
            session.flush()
            session.delete(year_row)
        return
    year_row = year_row or ResourceYear(platform_id=platform_id, year=year)
    funding = declaration.funding or {}
    for source in FUNDING_SOURCES:
        setattr(year_row, f"funding_{source}_cents", funding.get(source))
    year_row.funding_other_label = funding.get("other_label", "")
    year_row.trainings_declared = declaration.trainings is not None
    year_row.declared_at, year_row.declared_by = datetime.now(timezone.utc), user_id
    session.add(year_row)
    session.flush()
    for status, nature, count in declaration.trainings or ():
        session.add(ResourceTraining(resource_year_id=year_row.id, status=status, nature=nature, count=count))
