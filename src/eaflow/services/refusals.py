"""The one exception every service raises when it refuses: an HTTP status, a French message, and
the field errors and domain rule behind it (RFC 9457 problem+json in the API, messages beside their
fields in the pages)."""
from __future__ import annotations

from typing import Any

TITLES = {
    400: "Requête incorrecte", 401: "Authentification requise", 403: "Action non autorisée",
    404: "Introuvable", 405: "Méthode non autorisée", 409: "Conflit d'état", 413: "Contenu trop volumineux",
    415: "Type de contenu refusé", 422: "Données refusées", 429: "Trop de tentatives",
    500: "Erreur interne", 503: "Service momentanément indisponible",
}


class Refusal(Exception):
    def __init__(self, status: int, detail: str, *, rule: str | None = None,
                 errors: list[dict[str, str]] | None = None, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.rule, self.errors = status, detail, rule, errors
        self.type, self.headers, self.extra = type_, headers, extra

    @property
    def title(self) -> str:
        return TITLES.get(self.status, "Erreur")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.rule:
            body["rule"] = self.rule
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def invalid(detail: str, field: str, message: str, *, rule: str | None = None, status: int = 422) -> Refusal:
    """A refusal of one field."""
    return Refusal(status, detail, rule=rule, errors=[{"field": field, "message": message}])
