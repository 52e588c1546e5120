"""R20 group 2: the platform's resources as its managers declare them for one year (staff per quarter,
funding and trainings per year). A thin router over services/resources.py, which the page calls too;
the body is checked there (field by field, French numbers accepted), so both faces refuse alike."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path

from eaflow.api.deps import SettingsDep, require
from eaflow.services import resources, roles
from eaflow.store.models import User

router = APIRouter(tags=["reports"])
ManagerDep = Annotated[User, Depends(require(*roles.MANAGERS))]
YearPath = Annotated[int, Path(description="the calendar year declared")]

EXAMPLE = {
    "quarters": {"1": {"total_fte": 5.5, "fte_by_mission": {"accompaniment": 4, "coordination": 0.5,
                                                            "management": 0.5, "partnerships": 0.5},
                       "title_holders": 2, "title_in_training": 1},
                 "2": None, "3": None, "4": None},
    "funding": {"state": 120000, "agefiph": 80000, "fiphp": 10000, "other": 5000,
                "other_label": "Conseil départemental"},
    "trainings": [{"status": "delivered", "nature": "Job coaching", "count": 2},
                  {"status": "planned", "nature": "Méthode IPS", "count": 1}],
}
PUT_RESPONSES = {403: {"description": "not a manager, or a manager of a co-porteur (the chef de file declares)"},
                 422: {"description": "a field is missing or wrong; the missions' FTE do not add up to the total"}}


@router.get("/api/v1/platform-resources/{year}", summary="The platform's declared resources of one year (R20, 2°)")
def get_resources(year: YearPath, settings: SettingsDep, user: ManagerDep):
    return resources.declaration_of(settings, user, year)


@router.put("/api/v1/platform-resources/{year}", responses=PUT_RESPONSES,
            summary="Declare the platform's resources of one year: FTE and time split per quarter, funding and "
                    "trainings of the year (a part null: not declared)")
def put_resources(year: YearPath, settings: SettingsDep, user: ManagerDep,
                  body: Annotated[Any, Body(openapi_examples={"year": {"value": EXAMPLE}})]):
    return resources.declare(settings, user, year, body)
