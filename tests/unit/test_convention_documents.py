"""R10 without servers: the signing tokens, the convention's rendering to HTML and PDF, its task kinds."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from eaflow.documents import render as documents
from eaflow.policy import NATIONAL_DEFAULTS, policy_as_toml
from eaflow.settings import Settings
from eaflow.signing import TokenError, make_token, read_token, reading_keys, secret_key, token_id_for
from eaflow.workflows.task_kinds import outcome_errors

SECRET = b"secret-de-test"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def test_a_token_reads_back_and_refuses_tampering_expiry_and_another_convention():
    token = make_token(SECRET, "j-1-cv", "st-1", NOW + timedelta(days=30))
    assert read_token(SECRET, "j-1-cv", token, NOW) == "st-1"
    token_id, expires, mac = token.split(".")
    cases = {
        "tampered": [f"{token_id}.{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
                     f"st-2.{expires}.{mac}", f"{token_id}.{int(expires) + 1}.{mac}"],
        "malformed": ["", "abc", f"{token_id}.demain.{mac}"],
    }
    for reason, tokens in cases.items():
        for bad in tokens:
            with pytest.raises(TokenError) as refused:
                read_token(SECRET, "j-1-cv", bad, NOW)
            assert refused.value.reason == reason, bad
    with pytest.raises(TokenError, match="tampered"):
        read_token(SECRET, "j-2-cv", token, NOW)  # a link moved under another convention's address
    with pytest.raises(TokenError, match="tampered"):
        read_token(b"another key", "j-1-cv", token, NOW)
    with pytest.raises(TokenError, match="expired"):
        read_token(SECRET, "j-1-cv", token, NOW + timedelta(days=30))
    assert token_id_for("j-1/convention/v1/person/link-0") == token_id_for("j-1/convention/v1/person/link-0")


def test_the_secret_key_comes_from_the_settings_or_is_made_once_in_the_data_dir(tmp_path):
    assert secret_key(Settings(secret_key="clé")) == "clé".encode()
    first = secret_key(Settings(data_dir=tmp_path))
    assert len(first) >= 32 and secret_key(Settings(data_dir=tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_r10_a_link_sent_before_a_key_rotation_still_opens():
    """EAFLOW_SECRET_KEY replaced: the links already sent verify with the key listed as previous."""
    token = make_token(b"ancienne", "j-1-cv", "st-1", NOW + timedelta(days=30))
    rotated = Settings(secret_key="nouvelle", previous_secret_keys=("ancienne",))
    assert reading_keys(rotated) == [b"nouvelle", b"ancienne"]
    assert read_token(reading_keys(rotated), "j-1-cv", token, NOW) == "st-1"
    with pytest.raises(TokenError, match="tampered"):
        read_token(reading_keys(Settings(secret_key="nouvelle")), "j-1-cv", token, NOW)


def _context(**overrides):
    context = {
        "version": {"number": 1, "kind": "initial", "drafted_on": NOW, "content_hash": "ab" * 32},
        "parties": [
            {"role": "platform", "label": "la plateforme", "name": "Association Trajectoires 35",
             "signatory_name": "", "signatory_quality": None},
            {"role": "person", "label": "la personne accompagnée", "name": "Œdipe Lœwenbruck",
             "signatory_name": "Œdipe Lœwenbruck", "signatory_quality": None},
        ],
        "person": {"first_name": "Œdipe", "last_name": "Lœwenbruck", "birth_date": date(1990, 1, 1)},
        "counsellor_name": "Camille Conseil", "employer": None,
        "platform": {"name": "Plateforme 35", "operator": "Association Trajectoires 35", "mailbox": "p@t.fr"},
        "content": {"workplace_modalities": "Visites <b>mensuelles</b> & médiation", "rhythm": "Mensuel",
                    "objectives": None},
    }
    context.update(overrides)
    return context


def test_the_convention_carries_the_veille_clause_the_data_notice_and_escapes_what_was_typed():
    html = documents.render("convention.html.j2", **_context())
    assert "Mise en veille" in html and "pas une sortie du dispositif" in html and "avenant" in html
    assert "Vos données personnelles" in html and "article 9" in html and "CNIL" in html
    assert "Visites &lt;b&gt;mensuelles&lt;/b&gt; &amp; médiation" in html
    assert "employeur" not in html.split("Entre les parties")[1].split("Article 1")[0]  # no employer party


def test_the_pdf_prints_every_character_and_falls_back_without_fonts(monkeypatch):
    html = documents.render("convention.html.j2", **_context())
    pdf = documents.to_pdf([html], title="Convention", created=NOW)
    assert pdf == documents.to_pdf([html], title="Convention", created=NOW)  # the same bytes each time
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Œdipe Lœwenbruck" in text and "Visites <b>mensuelles</b> & médiation" in text
    monkeypatch.setattr(documents, "FONT_DIRS", ())
    fallback = documents.to_pdf([html], title="Convention", created=NOW)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(fallback)).pages)
    assert "OEdipe Loewenbruck" in text and "médiation" in text


def test_the_draft_outcome_names_the_parties_self_employed_sign_as_their_own_employer():
    base = {"workplace_modalities": "Visites", "rhythm": "Mensuel",
            "person_signatory": {"name": "Léa Martin", "email": "lea@example.fr"}}
    assert outcome_errors("draft_convention", base) == []
    assert outcome_errors("draft_convention", base | {"employer": {"name": "Atelier", "self_employed": True}}) == []
    employee = outcome_errors("draft_convention", base | {"employer": {"name": "Boulangerie"}})
    assert [e["field"] for e in employee] == ["outcome.employer"]
    both = outcome_errors("draft_convention", base | {"employer": {
        "name": "Atelier", "self_employed": True, "signatory": {"name": "X", "email": "x@example.fr"}}})
    assert [e["field"] for e in both] == ["outcome.employer"]
    assert [e["field"] for e in outcome_errors("draft_convention", base | {"workplace_modalities": "  "})] == [
        "outcome.workplace_modalities"]
    assert outcome_errors("sign_convention", {"decision": "refuse"})[0]["field"] == "outcome.reason"
    assert outcome_errors("sign_convention", {"decision": "sign"}) == []


def test_the_convention_delays_are_policy_with_the_national_defaults():
    convention = NATIONAL_DEFAULTS.convention
    assert (convention.signature_reminder_every, convention.signature_escalation_after) == ("P7D", "P21D")
    assert '[convention]\n' in policy_as_toml() and 'signature_escalation_after = "P21D"' in policy_as_toml()
