"""The main menu of each role, and the page each role lands on after sign-in."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    href: str
    label: str
    under: tuple[str, ...]  # the paths whose pages belong to this entry
    current: bool = False


MENUS: dict[str, tuple[Link, ...]] = {
    "counsellor": (
        Link("/", "Mes tâches", ("/", "/taches")),
        Link("/personnes", "Personnes accompagnées", ("/personnes", "/parcours")),
        Link("/preferences", "Mes préférences", ("/preferences",)),
    ),
    "manager": (
        Link("/", "Mes tâches", ("/", "/taches")),
        Link("/validations", "À valider", ("/validations",)),
        Link("/liste-attente", "Liste d'attente", ("/liste-attente",)),
        Link("/equipe", "Équipe", ("/equipe",)),
        Link("/personnes", "Personnes", ("/personnes", "/parcours")),
        Link("/indicateurs", "Indicateurs", ("/indicateurs",)),
        Link("/ressources", "Ressources", ("/ressources",)),
        Link("/preferences", "Mes préférences", ("/preferences",)),
    ),
    "prescriber": (
        Link("/prescriptions", "Mes prescriptions", ("/prescriptions",)),
        Link("/prescriptions/nouvelle", "Nouvelle prescription", ("/prescriptions/nouvelle",)),
    ),
    "admin": (
        Link("/administration", "Administration", ("/administration",)),
    ),
}

HOME = {"counsellor": "/", "manager": "/", "prescriber": "/prescriptions", "admin": "/administration"}


def _under(path: str, prefix: str) -> bool:
    return path == prefix if prefix == "/" else path == prefix or path.startswith(prefix + "/")


def navigation(role: str, path: str) -> list[Link]:
    """The role's menu, the entry of the page being shown marked current (the most specific one)."""
    links = MENUS.get(role, ())
    best = max(((max((len(p) for p in link.under if _under(path, p)), default=-1), i)
                for i, link in enumerate(links)), default=(-1, -1))
    return [Link(link.href, link.label, link.under, current=(i == best[1] and best[0] >= 0))
            for i, link in enumerate(links)]


def home_of(role: str) -> str:
    return HOME.get(role, "/")
