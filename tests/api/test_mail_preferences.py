"""The journey's mail activity honours the staff's preferences: a counsellor who turned a kind off, or
who reads their tasks in the weekly digest, does not get those single mails; a kind a rule makes
mandatory still goes; a manager's preference leaves the platform's mailbox and persons untouched.
The real activity (send_notification) on a real database and a real SMTP server."""
from __future__ import annotations

import pytest
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from eaflow.activities.registry import JourneyActivities
from eaflow.intake import IntakeRequest, record_prescription
from eaflow.notifications.registry import KINDS, STAFF_MAILS, staff_mail_skipped
from eaflow.services import preferences
from eaflow.store.db import session_scope
from eaflow.store.models import AuditEvent, User
from eaflow.workflows.types import Notification
from tests.api.test_journeys_and_inbox import intake

JOURNEY = "j-prefs"
TASK_URL = "http://test/api/v1/tasks/T-1"


@pytest.fixture
def journey(settings, platform) -> str:
    with session_scope(settings.db_url) as session:
        journey = record_prescription(session, JOURNEY, IntakeRequest.model_validate(intake()), platform.platform_id,
                                      platform.prescriber)
        journey.state, journey.counsellor_id = "accompaniment", platform.counsellor
        session.add(journey)
    return JOURNEY


def user(settings, user_id: str) -> User:
    with session_scope(settings.db_url) as session:
        found = session.get(User, user_id)
        session.expunge(found)
        return found


async def send(settings, step: str, kind: str, recipients: list[str], **params) -> int:
    notification = Notification(key=f"{JOURNEY}/{step}", kind=kind, journey_id=JOURNEY, recipients=recipients,
                                params=params)
    return await ActivityEnvironment().run(JourneyActivities(settings).send_notification, notification)


def no_address_notes(settings) -> list[AuditEvent]:
    with session_scope(settings.db_url) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == "mail_not_sent")).all())


def test_every_mail_to_the_staff_is_in_the_preferences_table():
    staff = {name for name, kind in KINDS.items()
             if any(word in kind.recipient for word in ("counsellor", "manager", "staff", "assignee"))}
    assert staff - {"weekly_digest"} == set(STAFF_MAILS)  # the digest is always sent: it is where tasks are read
    assert {kind for kind, mail in STAFF_MAILS.items() if mail.mandatory} == {
        "cdaph_notification_needed", "cdaph_notification_reminder", "exit_to_approve", "interview_overdue",
        "interview_to_plan", "rights_renewal_reminder", "rights_appeal_to_decide", "quarterly_report_archived"}
    assert staff_mail_skipped("interview_to_plan", "counsellor", {"interview_to_plan"}, True) is None
    assert staff_mail_skipped("exit_rejected", "counsellor", set(), True) is None  # no task: not in the digest
    assert staff_mail_skipped("relaunch_attempt", "counsellor", set(), True) == "digest"
    assert staff_mail_skipped("intake_refused", "prescriber", {"intake_refused"}, True) is None


async def test_a_counsellor_who_turned_a_kind_off_does_not_get_it_a_mandatory_kind_still_goes(
        settings, platform, journey, smtp_server):
    counsellor = user(settings, platform.counsellor)
    preferences.save_preferences(settings, counsellor, muted_kinds=["convention_to_draft"])
    assert await send(settings, "convention/to-draft", "convention_to_draft", ["counsellor"],
                      task_url=TASK_URL, due_on="2026-12-22") == 0
    assert await send(settings, "interview/2027-03-01/plan", "interview_to_plan", ["counsellor"],
                      task_url=TASK_URL, interview_due_on="2027-03-01") == 1
    [mail] = await smtp_server.wait_for(1)
    assert mail["To"] == "c1@test.fr" and mail["X-Eaflow-Kind"] == "interview_to_plan"
    assert no_address_notes(settings) == []  # the address is not missing: the counsellor said no
    # Turned back on, it comes again.
    preferences.save_preferences(settings, counsellor, muted_kinds=[])
    assert await send(settings, "convention/to-draft-2", "convention_to_draft", ["counsellor"],
                      task_url=TASK_URL, due_on="2026-12-22") == 1


async def test_a_counsellor_who_chose_the_digest_gets_no_mail_that_announces_a_task(settings, platform, journey,
                                                                                     smtp_server):
    preferences.save_preferences(settings, user(settings, platform.counsellor), muted_kinds=[], digest_instead=True)
    assert await send(settings, "relaunch/1", "relaunch_attempt", ["counsellor"], task_url=TASK_URL,
                      attempt_number=1, attempts_total=8, channel_label="téléphone", last_link_on=None) == 0
    assert await send(settings, "task-1/reminder-1", "task_reminder", [f"user:{platform.counsellor}"],
                      task_url=TASK_URL, task_title="Évaluation partagée", due_on="2026-12-01",
                      reminder_number=1) == 0
    # What no task carries still comes; and a rule's deadline always does.
    assert await send(settings, "exit/1/rejected", "exit_rejected", ["counsellor"], reason_label="demande",
                      decision_reason="Poursuivre.") == 1
    assert await send(settings, "rights/1", "rights_renewal_reminder", ["counsellor"], task_url=TASK_URL,
                      right_label="la RQTH", ends_on="2027-05-31") == 1
    kinds = [m["X-Eaflow-Kind"] for m in await smtp_server.wait_for(2)]
    assert kinds == ["exit_rejected", "rights_renewal_reminder"]


async def test_a_managers_preference_leaves_the_mailbox_and_the_persons_alone(settings, platform, journey,
                                                                             smtp_server):
    manager = user(settings, platform.manager)
    preferences.save_preferences(settings, manager, muted_kinds=["assignment_needed", "entry_decision_platform"])
    assert await send(settings, "assignment-needed", "assignment_needed", ["platform"], task_url=TASK_URL) == 1
    assert await send(settings, "exit/1/to-approve", "exit_to_approve", ["platform"], task_url=TASK_URL,
                      reason_label="demande explicite de la personne") == 2
    assert await send(settings, "admission/person", "admission_person", ["person"]) == 1
    mails = await smtp_server.wait_for(4)
    assert [(m["X-Eaflow-Kind"], m["To"]) for m in mails] == [
        ("assignment_needed", "plateforme35@test.fr"), ("exit_to_approve", "plateforme35@test.fr"),
        ("exit_to_approve", "manager@test.fr"), ("admission_person", "lea.martin@example.fr")]
