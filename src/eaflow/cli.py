"""The `eaflow` command line.

Every command reads its settings from the EAFLOW_* environment variables (see the README and
eaflow/settings.py) and takes `--data-dir`, which overrides EAFLOW_DATA_DIR.

    eaflow up [--port 8000] [--temporal-port 7233] [--ui-port P] [--mail-port 1025] [--policy FILE] [--demo]
    eaflow worker
    eaflow api [--host 127.0.0.1] [--port 8000]
    eaflow db upgrade | current | revision -m MESSAGE [--empty]
    eaflow platform add --department CODE --name NAME [--operator NAME] [--mailbox EMAIL]
    eaflow user add --email E --role ROLE [--platform CODE] [--fte 0.8] [--name NAME] [--operator OP] --password-stdin
    eaflow demo [--api-url URL]
    eaflow journeys resume
    eaflow journeys check [--repair] [--since-hours N] [JOURNEY_ID ...]
    eaflow data check [--platform CODE]
    eaflow policy show [--policy FILE]
    eaflow personal-data purge [--dry-run] [--today YYYY-MM-DD] [--policy FILE]
    eaflow person export JOURNEY_ID --by MANAGER_EMAIL [--format pdf|json] [--output FILE]

Exit codes: 0 success, 1 failure, 2 refused before doing anything (bad usage, taken port).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eaflow.settings import Settings, load_settings


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "data_dir", None):
        settings = settings.with_data_dir(Path(args.data_dir).expanduser().resolve())
    return settings


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<database>"


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from eaflow.embedded import UpOptions, run_up

    options = UpOptions(
        host=args.host,
        port=args.port,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        mail_port=args.mail_port,
        policy=Path(args.policy) if args.policy else None,
        demo=args.demo,
    )
    return run_up(_settings(args), options)


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from eaflow.worker import run_worker

    settings = _settings(args)

    async def main() -> None:
        task = asyncio.ensure_future(run_worker(settings))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    # The uvicorn factory builds its settings from the environment: pass --data-dir on.
    os.environ["EAFLOW_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run("eaflow.app:app_from_env", factory=True, host=args.host, port=args.port, log_level=args.log_level,
                log_config=None)  # our JSON lines on the root logger
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from eaflow.store.migrate import current, upgrade

    url = _settings(args).db_url
    upgrade(url)
    print(f"database {_safe_url(url)} is at revision {current(url)} (head)")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from eaflow.store.migrate import current, head

    url = _settings(args).db_url
    revision = current(url)
    latest = head()
    state = "up to date" if revision == latest else f"behind: head is {latest}, run `eaflow db upgrade`"
    print(f"database {_safe_url(url)} is at revision {revision or '(none)'} ({state})")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    from eaflow.store.migrate import revision

    try:
        path = revision(args.message, allow_empty=args.empty)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    print(f"wrote {path}: read it, adjust it, and test it (tests/unit/test_migrations.py)")
    return 0


def cmd_platform_add(args: argparse.Namespace) -> int:
    from eaflow.accounts import create_platform
    from eaflow.store.db import session_scope
    from eaflow.store.migrate import upgrade

    url = _settings(args).db_url
    upgrade(url)
    with session_scope(url) as session:
        platform = create_platform(
            session, args.department, args.name, operator=args.operator or "", mailbox=args.mailbox or ""
        )
    print(f"platform {platform.id} created: {platform.name} (département {platform.department})")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CommandError("the two passwords differ", 2)
    else:
        raise CommandError("give the password on standard input with --password-stdin", 2)
    from eaflow.password_rule import password_problems

    for problem in password_problems(password, name=args.name or "", email=args.email):
        raise CommandError(f"password refused: {problem}", 2)
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    from eaflow.accounts import create_user
    from eaflow.store.db import session_scope
    from eaflow.store.migrate import upgrade

    password = _read_password(args)
    url = _settings(args).db_url
    upgrade(url)
    with session_scope(url) as session:
        user = create_user(
            session,
            args.email,
            args.role,
            password,
            platform_id=args.platform,
            fte=args.fte if args.fte is not None else 0.0,
            display_name=args.name or "",
            operator=args.operator,
        )
    fte = f", {user.fte:g} FTE" if user.role == "counsellor" else ""
    print(f"user {user.id} created: {user.email} ({user.role}{fte}, platform {user.platform_id})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from eaflow.demo import DemoError, seed

    settings = _settings(args)
    api_url = args.api_url or settings.public_url
    try:
        print(seed(settings, api_url, say=print))
    except DemoError as exc:
        raise CommandError(f"{exc} (is the stack running? `eaflow up`)") from None
    return 0


def cmd_journeys_resume(args: argparse.Namespace) -> int:
    """After deploying a version with a new procedure: every running journey continues as new at its
    next safe point, into the deployed code (a journey idle in an older shape would wait forever)."""
    import asyncio

    from eaflow.temporal_client import connect

    async def resume() -> int:
        client = await connect(_settings(args))
        count = 0
        async for execution in client.list_workflows('WorkflowType="Journey" AND ExecutionStatus="Running"'):
            await client.get_workflow_handle(execution.id, run_id=execution.run_id).signal("resume")
            count += 1
        return count

    try:
        count = asyncio.run(resume())
    except Exception as exc:  # noqa: BLE001 (Temporal unreachable: one line, not a trace)
        raise CommandError(f"cannot reach Temporal: {exc}", 2) from None
    print(f"{count} running journey(s) asked to continue into the deployed code")
    return 0


def cmd_journeys_check(args: argparse.Namespace) -> int:
    """Compare every journey's workflow with the records (eaflow/reconcile.py), and mend with --repair:
    one line per difference, then a summary. Exit 1 when a difference is left (a person must look)."""
    import asyncio
    from datetime import datetime, timedelta, timezone

    from eaflow import reconcile
    from eaflow.temporal_client import connect

    settings = _settings(args)
    since = datetime.now(timezone.utc) - timedelta(hours=args.since_hours) if args.since_hours else None

    async def check() -> reconcile.Report:
        client = await connect(settings)
        return await reconcile.check(client, settings, repair=args.repair, since=since,
                                     journey_ids=args.journey_ids or None)

    try:
        report = asyncio.run(check())
    except Exception as exc:  # noqa: BLE001 (Temporal or the database unreachable: one line, not a trace)
        raise CommandError(f"cannot compare the journeys: {exc}", 2) from None
    for difference in report.differences:
        print(difference.line())
    print(report.summary())
    return 0 if all(d.repaired for d in report.differences) else 1


def cmd_personal_data_purge(args: argparse.Namespace) -> int:
    """R22: anonymise the closed files past their retention (what the daily schedule does), or list them."""
    from datetime import date
    from functools import partial

    from eaflow.policy import load_policy
    from eaflow.services import personal_data
    from eaflow.store.db import session_scope
    from eaflow.store.migrate import upgrade

    settings = _settings(args)
    try:
        today = date.fromisoformat(args.today) if args.today else date.today()
    except ValueError:
        raise CommandError(f"not a date: {args.today!r} (expected YYYY-MM-DD)", 2) from None
    policy = load_policy(args.policy or settings.policy_file)
    upgrade(settings.db_url)
    jobs = personal_data.purge(partial(session_scope, settings.db_url, settings.db_busy_timeout_seconds),
                               policy, today, dry_run=args.dry_run)
    print("\n".join(personal_data.lines(jobs, dry_run=args.dry_run)))
    return 0


def cmd_person_export(args: argparse.Namespace) -> int:
    """R22, GDPR art. 15: the person's whole file, for the manager named by --by (the export is traced
    as their read)."""
    from sqlmodel import select

    from eaflow.services.person_export import export_file
    from eaflow.services.refusals import Refusal
    from eaflow.store.db import session_scope
    from eaflow.store.models import User
    from eaflow.web.timeline import ACTION_LABELS

    settings = _settings(args)
    with session_scope(settings.db_url) as session:
        user = session.exec(select(User).where(User.email == args.by.strip().lower())).first()
    if user is None or not user.active:
        raise CommandError(f"no active account {args.by}", 2)
    try:
        export = export_file(settings, user, args.journey_id, args.format, ACTION_LABELS)
    except Refusal as refusal:
        raise CommandError(refusal.detail, 2 if refusal.status in (403, 422) else 1) from None
    output = Path(args.output) if args.output else Path(export.filename)
    output.write_bytes(export.content)
    print(f"{output} ({len(export.content)} octets)")
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    """Issue 18: the records that break the bounds of what can be true (services/plausible.py), one line
    each (table, id, field, value, bound); exit 1 when there is any, so that a platform that imported
    files before the bounds existed can find and correct them."""
    from datetime import date

    from sqlmodel import select

    from eaflow.services.plausible import records_out_of_bounds
    from eaflow.store.db import session_scope
    from eaflow.store.models import Platform

    settings = _settings(args)
    with session_scope(settings.db_url) as session:
        platform_id = None
        if args.platform:
            platform = session.exec(select(Platform).where(Platform.department == args.platform)).first()
            if platform is None:
                raise CommandError(f"no platform for département {args.platform!r}", 2)
            platform_id = platform.id
        found = list(records_out_of_bounds(session, platform_id, date.today()))
    for record in found:
        print(record.line())
    print(f"{len(found)} record(s) out of bounds")
    return 1 if found else 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    from eaflow.policy import load_policy, policy_as_toml

    settings = _settings(args)
    path = args.policy or settings.policy_file
    try:
        policy = load_policy(path)
    except FileNotFoundError:
        raise CommandError(f"policy file not found: {path}", 2) from None
    except Exception as exc:  # noqa: BLE001 (TOML or validation error, shown as is)
        raise CommandError(f"invalid policy file {path}: {exc}", 2) from None
    source = f"file {path} over the national defaults" if path else "national defaults"
    print(f"# Effective policy ({source}). ISO 8601 durations.")
    print(policy_as_toml(policy), end="")
    return 0


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    data_dir_help = "where eaflow keeps its data (overrides EAFLOW_DATA_DIR, default ./var)"
    # Accepted before or after the command; SUPPRESS keeps a subcommand from resetting the value
    # given before it (`eaflow --data-dir X up`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS, help=data_dir_help)

    parser = argparse.ArgumentParser(
        prog="eaflow",
        description="eaflow: the day-to-day software of a plateforme départementale d'emploi accompagné.",
    )
    parser.add_argument("--data-dir", metavar="DIR", default=None, help=data_dir_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", parents=[common], help="run the whole product on this machine (embedded stack)")
    up.add_argument("--host", default="127.0.0.1", help="address every service binds (default 127.0.0.1)")
    up.add_argument("--port", type=_port, default=8000, help="API port (default 8000)")
    up.add_argument("--temporal-port", type=_port, default=7233, help="Temporal gRPC port (default 7233)")
    up.add_argument("--ui-port", type=_port, default=None, help="Temporal UI port (default: Temporal port + 1000)")
    up.add_argument("--mail-port", type=_port, default=1025, help="SMTP port of the mail catcher (default 1025)")
    up.add_argument("--policy", metavar="FILE", help="platform policy file (TOML); default: national defaults")
    up.add_argument("--demo", action="store_true", help="seed the demo platform, accounts and journeys")
    up.set_defaults(func=cmd_up)

    worker = commands.add_parser("worker", parents=[common], help="run the Temporal worker (production)")
    worker.set_defaults(func=cmd_worker)

    api = commands.add_parser("api", parents=[common], help="run the HTTP API (production)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=_port, default=8000)
    api.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    api.set_defaults(func=cmd_api)

    db = commands.add_parser("db", parents=[common], help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", parents=[common], help="migrate the database to the latest revision").set_defaults(
        func=cmd_db_upgrade
    )
    db_commands.add_parser("current", parents=[common], help="show the revision of the database").set_defaults(
        func=cmd_db_current
    )
    revision = db_commands.add_parser(
        "revision", parents=[common], help="autogenerate the next migration from the models (development)"
    )
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--empty", action="store_true", help="write a revision even when the models did not change")
    revision.set_defaults(func=cmd_db_revision)

    platform = commands.add_parser("platform", parents=[common], help="platforms")
    platform_commands = platform.add_subparsers(dest="platform_command", metavar="ACTION", required=True)
    platform_add = platform_commands.add_parser("add", parents=[common], help="create the platform of a département")
    platform_add.add_argument("--department", required=True, metavar="CODE", help="département code, e.g. 35, 2A, 974")
    platform_add.add_argument("--name", required=True)
    platform_add.add_argument("--operator", default="", help="the operator (co-porteur) running it")
    platform_add.add_argument("--mailbox", default="", metavar="EMAIL", help="the platform's team mailbox")
    platform_add.set_defaults(func=cmd_platform_add)

    user = commands.add_parser("user", parents=[common], help="user accounts")
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    user_add = user_commands.add_parser("add", parents=[common], help="create an account")
    user_add.add_argument("--email", required=True)
    user_add.add_argument("--role", required=True, choices=["counsellor", "manager", "admin", "prescriber"])
    user_add.add_argument("--platform", metavar="CODE", help="département code of the platform (default: the only one)")
    user_add.add_argument("--fte", type=float, default=None, help="full-time equivalent, required for counsellors (0 < fte <= 1)")
    user_add.add_argument("--name", default="", help="display name")
    user_add.add_argument("--operator", default=None,
                          help="counsellors and managers: the operator (id or name) they work for; default the chef de file")
    user_add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    user_add.set_defaults(func=cmd_user_add)

    demo = commands.add_parser("demo", parents=[common], help="seed the demo data through the running API")
    demo.add_argument("--api-url", help="the running API (default EAFLOW_PUBLIC_URL)")
    demo.set_defaults(func=cmd_demo)

    journeys = commands.add_parser("journeys", parents=[common], help="running journeys")
    journeys_commands = journeys.add_subparsers(dest="journeys_command", required=True)
    journeys_commands.add_parser(
        "resume", parents=[common], help="after an upgrade: every running journey continues into the deployed code"
    ).set_defaults(func=cmd_journeys_resume)
    check = journeys_commands.add_parser(
        "check", parents=[common], help="compare every journey with the records; --repair mends what can be")
    check.add_argument("--repair", action="store_true", help="mend what can be mended (eaflow/reconcile.py)")
    check.add_argument("--since-hours", type=float, help="only the journeys touched in the last N hours")
    check.add_argument("journey_ids", nargs="*", metavar="JOURNEY_ID", help="only these journeys")
    check.set_defaults(func=cmd_journeys_check)

    data = commands.add_parser("data", parents=[common], help="the records")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    data_check = data_commands.add_parser(
        "check", parents=[common], help="list the records that break the bounds of what can be true; exit 1 if any")
    data_check.add_argument("--platform", metavar="CODE", help="only the platform of this département")
    data_check.set_defaults(func=cmd_data_check)

    personal = commands.add_parser("personal-data", parents=[common], help="personal data (R22)")
    personal_commands = personal.add_subparsers(dest="personal_data_command", metavar="ACTION", required=True)
    purge = personal_commands.add_parser(
        "purge", parents=[common], help="anonymise the closed files past their retention ([personal_data] policy)")
    purge.add_argument("--dry-run", action="store_true", help="list what would go, change nothing")
    purge.add_argument("--today", metavar="YYYY-MM-DD", help="count the retention up to this day (default today)")
    purge.add_argument("--policy", metavar="FILE", help="policy file (default EAFLOW_POLICY_FILE, else national defaults)")
    purge.set_defaults(func=cmd_personal_data_purge)

    person = commands.add_parser("person", parents=[common], help="a person's file")
    person_commands = person.add_subparsers(dest="person_command", metavar="ACTION", required=True)
    export = person_commands.add_parser(
        "export", parents=[common], help="the person's whole file (GDPR art. 15), in French, as PDF or JSON")
    export.add_argument("journey_id", metavar="JOURNEY_ID")
    export.add_argument("--by", metavar="EMAIL", required=True,
                        help="the manager of the platform the export is made for (traced as their read)")
    export.add_argument("--format", choices=("pdf", "json"), default="pdf")
    export.add_argument("--output", metavar="FILE", help="where to write it (default dossier-<id>-<date>.<format>)")
    export.set_defaults(func=cmd_person_export)

    policy = commands.add_parser("policy", parents=[common], help="the platform policy")
    policy_commands = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    show = policy_commands.add_parser("show", parents=[common], help="print the effective policy as TOML")
    show.add_argument("--policy", metavar="FILE", help="policy file (default EAFLOW_POLICY_FILE, else national defaults)")
    show.set_defaults(func=cmd_policy_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"eaflow: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # refusals of accounts.py and friends: said plainly, no traceback
        print(f"eaflow: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The console script: `main`, then an exit that skips the interpreter's finalisation. The Temporal
    client's native threads can abort a finalising interpreter ("PyGILState_Release", exit -6) after
    a command that talked to Temporal has printed its result: its exit code must be the command's."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
