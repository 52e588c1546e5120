"""The demo's HTTP client: what `eaflow demo` does, it does through the API, as a real client would.

Every call signs in as a demo account (bearer token), and every write is safe to repeat: an
interrupted seeding resumes by sending the same requests again (Idempotency-Key on intakes and
contacts, the same completion of a task, an employment opening with the same employer and start,
the same veille or exit body), and the demo reads the journey first where a repeat would be refused
(a paper signature of a party that has already answered, a veille or an exit already under way).
"""
from __future__ import annotations

import time
from datetime import date
from typing import Any, Callable

DEMO_PASSWORD = "demo-eaflow"
POLL_SECONDS = 0.2
RETRIES_ON_503 = 3  # the API answers 503 when the workflow engine did not take an update in time


class DemoError(RuntimeError):
    pass


class DemoApi:
    def __init__(self, base_url: str, timeout: float, inbox_reader: str):
        import httpx

        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=30)
        self.timeout = timeout
        self.inbox_reader = inbox_reader  # the account that polls the inbox (a manager sees every task)
        self.tokens: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _check(response, what: str):
        if response.status_code >= 400:
            raise DemoError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def headers(self, email: str, idempotency_key: str | None = None) -> dict[str, str]:
        if email not in self.tokens:
            response = self.http.post("/api/v1/auth/token", data={"username": email, "password": DEMO_PASSWORD})
            self.tokens[email] = self._check(response, f"login as {email}")["access_token"]
        headers = {"Authorization": f"Bearer {self.tokens[email]}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def get(self, email: str, path: str, **params) -> Any:
        return self._check(self.http.get(path, params=params, headers=self.headers(email)), f"GET {path}")

    def post(self, email: str, path: str, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        """A JSON POST; repeated on a 503 (every POST of the demo is safe to repeat)."""
        for attempt in range(RETRIES_ON_503):
            response = self.http.post(path, json=body, headers=self.headers(email, idempotency_key))
            if response.status_code != 503 or attempt == RETRIES_ON_503 - 1:
                return self._check(response, f"POST {path}")
            time.sleep(1.0 * (attempt + 1))

    def wait_for(self, probe: Callable[[], Any], what: str) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DemoError(f"{what}: nothing after {self.timeout:.0f} s")
            time.sleep(POLL_SECONDS)

    # ------------------------------------------------------------------ journeys and the inbox
    def create_journey(self, email: str, body: dict[str, Any], idempotency_key: str) -> tuple[dict[str, Any], bool]:
        """(the journey, whether this request created it: a repeated Idempotency-Key finds it again)."""
        response = self.http.post("/api/v1/journeys", json=body, headers=self.headers(email, idempotency_key))
        return self._check(response, "POST /api/v1/journeys"), response.status_code == 201

    def listed_journey(self, journey_id: str, name: str) -> dict[str, Any]:
        """The journey as `GET /api/v1/journeys?q=name` lists it: a look traced like any read of a
        file (R22: one `journey_listed` line per journey shown, in the managers' journal, never in the
        counsellor's history of steps), so each poll writes one line per journey of that name."""
        listed = self.get(self.inbox_reader, "/api/v1/journeys", q=name, limit=200)["items"]
        journey = next((j for j in listed if j["id"] == journey_id), None)
        if journey is None:
            raise DemoError(f"journey {journey_id} is not listed (searched for {name!r})")
        return journey

    def journeys(self) -> dict[str, dict[str, Any]]:
        """Every journey the inbox reader sees, by id (the list, page by page)."""
        found: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            page = self.get(self.inbox_reader, "/api/v1/journeys", limit=200, **({"cursor": cursor} if cursor else {}))
            found.update((j["id"], j) for j in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def tasks(self, journey_id: str, kind: str, status: str) -> list[dict[str, Any]]:
        return self.get(self.inbox_reader, "/api/v1/tasks", journey_id=journey_id, kind=kind, status=status)["items"]

    def wait_open_task(self, journey_id: str, kind: str) -> dict[str, Any]:
        return self.wait_for(lambda: (self.tasks(journey_id, kind, "open") or [None])[0],
                             f"waiting for an open {kind} task on journey {journey_id}")

    def complete(self, email: str, task_id: str, outcome: dict[str, Any]) -> None:
        self.post(email, f"/api/v1/tasks/{task_id}/complete", {"outcome": outcome})

    def wait_state(self, journey_id: str, name: str, states: frozenset[str] | None,
                   tasks: frozenset[str] | None = None) -> dict[str, Any]:
        """The journey once it is in one of `states` (any if None) and, if given, with exactly these open tasks."""
        def settled():
            journey = self.listed_journey(journey_id, name)
            kinds = {t["kind"] for t in journey.get("open_tasks", [])}
            if (states is None or journey["state"] in states) and (tasks is None or kinds == tasks):
                return journey
            return None

        expected = ("|".join(sorted(states)) if states else "settled") + (
            f" with open tasks {sorted(tasks)}" if tasks is not None else "")
        return self.wait_for(settled, f"waiting for journey {journey_id} to be {expected}")

    # ------------------------------------------------------------------ the convention (R10)
    def paper_signature(self, email: str, journey_id: str, *, version: int, party_id: str, signer_name: str,
                        signed_on: date, scan: bytes, filename: str) -> dict[str, Any]:
        response = self.http.post(
            f"/api/v1/journeys/{journey_id}/convention/paper-signatures",
            data={"version": str(version), "party_id": party_id, "signer_name": signer_name,
                  "signed_on": signed_on.isoformat(), "decision": "signed"},
            files={"scan": (filename, scan, "application/pdf")},
            headers=self.headers(email),
        )
        return self._check(response, f"paper signature on journey {journey_id}")


def scan_pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid one-page PDF standing for the scan of a signed paper (fpdf2, core font)."""
    from fpdf import FPDF

    def latin1(text: str) -> str:  # what the core Helvetica font can draw
        return text.replace("’", "'").replace("—", "-").encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(format="A4")
    pdf.set_title(latin1(title))
    pdf.set_creator("eaflow demo")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 9, latin1(title))
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 7, latin1(line))
        pdf.ln(1)
    pdf.ln(6)
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(0, 5, latin1("Scan fictif généré par la démonstration d'eaflow : aucune personne réelle."))
    return bytes(pdf.output())
