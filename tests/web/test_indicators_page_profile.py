"""/indicateurs (R20, R22): the profile breakdowns of group 3 are on the page in French, with their
"non renseigné" line, and a small cell reads "< 5" (eaflow.small_numbers), as in the downloads."""
from __future__ import annotations

from tests.web.test_indicators_page import MANAGER, PAGE_Q1, cells_of, manager  # noqa: F401  (fixture)


async def test_r20_r22_the_page_shows_the_profile_lines_and_masks_small_cells(manager):  # noqa: F811
    html = (await manager.get(MANAGER, PAGE_Q1)).text
    cells = cells_of(html)
    # The seeded quarter: 8 persons accompanied, none evaluated with a profile.
    assert cells["Nature du handicap des personnes accompagnées : non renseigné"] == "8"
    assert cells["Nature du handicap des personnes accompagnées : handicap psychique"] == "0"
    assert cells["Niveau de formation initiale : non renseigné"] == "8"
    # situation at entry: seeking 5, employed 2, about to be hired 0, leaving ESAT 1 → the two small ones masked.
    assert cells["Situation à l'entrée des personnes accompagnées : en recherche d'emploi"] == "5"
    masked = [label for label, value in cells.items() if value == "&lt; 5"]
    assert any(label.startswith("Situation à l'entrée") for label in masked), masked
    # Group 4 is not health data: the employers of the few persons in employment are shown as counted.
    employers = "Employeurs des personnes en emploi en fin de période, par taille : non renseigné"
    assert cells[employers] not in ("&lt; 5", "0") and employers not in masked
