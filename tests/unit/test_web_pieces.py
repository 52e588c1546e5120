"""Small pieces of the pages: the intensity chart (R11), the rule beside each task kind, the timeline's
French labels, and every template compiling with StrictUndefined."""
from __future__ import annotations

import re
from xml.etree import ElementTree

from eaflow.web.charts import intensity_chart
from eaflow.web.rendering import ENV, TEMPLATES_DIR
from eaflow.web.timeline import describe_event
from eaflow.workflows.task_kinds import RULE_OF_KIND, RULE_SUMMARIES, TASK_KINDS

SVG = "{http://www.w3.org/2000/svg}"


def months(*hours: float) -> list[dict]:
    return [{"month": f"2026-{n:02d}", "hours": h, "label": "allégé" if h < 2 else "suivi"}
            for n, h in enumerate(hours, start=1)]


def test_r11_the_chart_draws_one_bar_per_month_with_hours_and_the_thresholds():
    svg = ElementTree.fromstring(str(intensity_chart(months(0, 1.5, 9, 14))))
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "intensite-titre intensite-desc"
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 3  # a month without contact has no bar
    heights = [float(bar.get("height")) for bar in bars]
    assert heights == sorted(heights) and heights[0] > 0
    assert [bar.find(f"{SVG}title").text for bar in bars][0] == "févr. 2026 : 1,5 h (allégé)"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"2 h", "8 h", "12 h", "janv.", "avr."} <= set(texts)
    assert "style=" not in str(intensity_chart(months(3)))  # the pages' CSP allows no inline style


def test_every_task_kind_names_the_rule_it_serves_with_its_summary():
    assert set(RULE_OF_KIND) == set(TASK_KINDS)
    for kind in TASK_KINDS.values():
        assert re.fullmatch(r"R\d+(/R\d+)?", kind.rule)
        assert kind.rule_summary in RULE_SUMMARIES.values()


def test_the_timeline_says_in_french_what_happened_and_which_task():
    event = describe_event({"at": None, "action": "task_opened", "actor": None, "actor_kind": "timer",
                            "detail": {"kind": "plan_interview"}})
    assert event["label"] == "Tâche ouverte : tenir l'entretien trimestriel" and event["by"] == "échéance automatique"
    assert describe_event({"at": None, "action": "something_new", "actor": None, "actor_kind": "system"})[
        "label"] == "Étape enregistrée"
    assert describe_event({"at": None, "action": "journey_read", "actor": {"name": "Camille"}})["label"] == \
        "Dossier consulté"


def test_every_template_compiles():
    for path in TEMPLATES_DIR.glob("*.j2"):
        ENV.get_template(path.name)
