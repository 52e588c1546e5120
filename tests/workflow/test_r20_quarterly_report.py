"""R20, the quarterly report as Temporal runs it: the workflow and its activities on the time-skipping
server (each platform's report archived once, each manager mailed once, however often it runs), and the
schedule `quarterly-report` on the dev server (each quarter's end plus the policy's delay, Paris time,
ensured once, following the policy)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlmodel import select
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy, ScheduleRange
from temporalio.worker import Worker

from eaflow.activities.reports import ReportActivities, quarter_before
from eaflow.notifications.outbox import STATUS_SENT
from eaflow.policy import Policy, ReportsPolicy
from eaflow.schedules import REPORT_HOUR, ensure_quarterly_report_schedule
from eaflow.settings import Settings
from eaflow.store.db import session_scope
from eaflow.store.models import MailOutbox
from eaflow.store.reports import SCHEDULE_AUTHOR, ReportSnapshot
from eaflow.workflows.quarterly_report import QuarterlyReport, QuarterlyReportResult, mail_key
from tests.unit.test_indicators import seed

PARIS = ZoneInfo("Europe/Paris")


def test_r20_the_quarter_is_the_last_complete_one_in_paris_time():
    assert quarter_before(datetime(2027, 4, 6, 4, 0, tzinfo=timezone.utc)).start == date(2027, 1, 1)
    # 31 March 2027 at 22:30 UTC is already 1 April in Paris: the first quarter is complete.
    period = quarter_before(datetime(2027, 3, 31, 22, 30, tzinfo=timezone.utc))
    assert (period.start, period.end) == (date(2027, 1, 1), date(2027, 3, 31))


async def test_r20_the_quarterly_report_is_archived_and_mailed_once(time_skipping_env, settings, platform,
                                                                   smtp_server):
    seed(settings.db_url, platform)
    client = time_skipping_env.client
    with time_skipping_env.auto_time_skipping_disabled():
        async with Worker(client, task_queue=settings.task_queue, workflows=[QuarterlyReport],
                          activities=ReportActivities(settings).all()):
            first = await client.execute_workflow(QuarterlyReport.run, id=f"quarterly-{uuid.uuid4().hex[:8]}",
                                                  task_queue=settings.task_queue, result_type=QuarterlyReportResult)
            again = await client.execute_workflow(QuarterlyReport.run, id=f"quarterly-{uuid.uuid4().hex[:8]}",
                                                  task_queue=settings.task_queue, result_type=QuarterlyReportResult)
    outcome = first.outcomes[platform.platform_id]
    assert (outcome.version, outcome.stored, outcome.mailed) == (1, True, [platform.manager])
    assert (first.start, first.end) == (again.start, again.end)
    quarter = quarter_before(datetime.now(timezone.utc))
    assert (first.start, first.end) == (quarter.start, quarter.end)
    repeated = again.outcomes[platform.platform_id]
    assert (repeated.snapshot_id, repeated.stored) == (outcome.snapshot_id, False)
    with session_scope(settings.db_url) as session:
        [snapshot] = session.exec(select(ReportSnapshot).where(
            ReportSnapshot.platform_id == platform.platform_id)).all()
        # Every platform gets its own (the fixture's other platforms too), once.
        assert len(session.exec(select(ReportSnapshot)).all()) == len(first.outcomes) == len(again.outcomes)
        assert (snapshot.version, snapshot.created_by, snapshot.supersedes_id) == (1, SCHEDULE_AUTHOR, None)
        [mail] = session.exec(select(MailOutbox).where(MailOutbox.kind == "quarterly_report_archived")).all()
        assert mail.status == STATUS_SENT and mail.recipient == "manager@test.fr"
        assert mail.idempotency_key == mail_key(platform.platform_id, first.start, first.end, platform.manager)
    [message] = await smtp_server.wait_for(1)
    body = message.get_content()
    assert message["Subject"].startswith("Rapport trimestriel archivé")
    assert snapshot.sha256 in body and f"/indicateurs/archives/{snapshot.id}" in body and "Bonjour" in body


async def test_r20_with_co_porteurs_each_operators_part_is_archived_and_mailed_to_its_managers(
        time_skipping_env, settings, platform, smtp_server):
    from eaflow import accounts
    from eaflow.store.models import Operator

    with session_scope(settings.db_url) as session:
        session.add(Operator(id="op-sud", platform_id=platform.platform_id, name="Handi-Emploi Sud"))
        session.flush()
        accounts.create_user(session, "resp-sud@test.fr", "manager", "mot-de-passe-assez-long",
                             platform_id=platform.platform_id, operator="op-sud")
    client = time_skipping_env.client
    with time_skipping_env.auto_time_skipping_disabled():
        async with Worker(client, task_queue=settings.task_queue, workflows=[QuarterlyReport],
                          activities=ReportActivities(settings).all()):
            for _ in range(2):  # run twice: still one snapshot of each, one mail each
                await client.execute_workflow(QuarterlyReport.run, id=f"quarterly-{uuid.uuid4().hex[:8]}",
                                              task_queue=settings.task_queue, result_type=QuarterlyReportResult)
    with session_scope(settings.db_url) as session:
        snapshots = session.exec(select(ReportSnapshot).where(
            ReportSnapshot.platform_id == platform.platform_id)).all()
        assert sorted((s.operator_id or "", s.version) for s in snapshots) == [("", 1), ("op-35", 1), ("op-sud", 1)]
        by_operator = {s.operator_id: s for s in snapshots}
        mails = session.exec(select(MailOutbox).where(MailOutbox.kind == "quarterly_report_archived")).all()
        assert sorted(m.recipient for m in mails) == ["manager@test.fr", "resp-sud@test.fr"]
    messages = {m["To"]: m.get_content() for m in await smtp_server.wait_for(2)}
    # The chef de file's manager gets the platform's report, the co-porteur's manager their operator's.
    assert f"/indicateurs/archives/{by_operator[None].id}" in messages["manager@test.fr"]
    assert f"/indicateurs/archives/{by_operator['op-sud'].id}" in messages["resp-sud@test.fr"]


def _policy(delay: int) -> Policy:
    return Policy(reports=ReportsPolicy(snapshot_delay_days=delay))


async def test_r20_the_schedule_fires_after_each_quarter_and_follows_the_policy(local_env):
    client: Client = local_env.client
    settings = Settings(task_queue=f"quarterly-spec-{uuid.uuid4().hex[:8]}")
    schedule_id = f"quarterly-report-{uuid.uuid4().hex[:8]}"
    handle = client.get_schedule_handle(schedule_id)
    try:
        assert await ensure_quarterly_report_schedule(client, settings, _policy(5), schedule_id) == "created"
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert list(calendar.month) == [ScheduleRange(m) for m in (1, 4, 7, 10)]
        assert list(calendar.day_of_month) == [ScheduleRange(6)]
        assert list(calendar.hour) == [ScheduleRange(REPORT_HOUR)]
        assert described.schedule.spec.time_zone_name == "Europe/Paris"
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        assert described.schedule.policy.catchup_window == timedelta(days=7)
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("QuarterlyReport", settings.task_queue)
        for moment in described.info.next_action_times[:3]:
            local = moment.astimezone(PARIS)
            assert (local.month in (1, 4, 7, 10), local.day, local.hour, local.minute) == (True, 6, REPORT_HOUR, 0)
            # The quarter it reports on ended five days before.
            assert quarter_before(moment).end == local.date() - timedelta(days=6)
        assert await ensure_quarterly_report_schedule(client, settings, _policy(5), schedule_id) == "unchanged"
        await handle.pause(note="pause décidée par l'administrateur")
        assert await ensure_quarterly_report_schedule(client, settings, _policy(10), schedule_id) == "updated"
        described = await handle.describe()
        assert list(described.schedule.spec.calendars[0].day_of_month) == [ScheduleRange(11)]
        assert described.schedule.state.paused
    finally:
        await handle.delete()
