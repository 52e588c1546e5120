"""Inbox latency at scale, on SQLite and PostgreSQL, through the real API.

    .venv/bin/python -m bench.inbox_latency [--tasks 100000] [--counsellors 2000] [--platforms 50]
                                            [--requests 500] [--db sqlite,postgres] [--quick]

Seeds directly into a fresh database (migrated by `upgrade`, then bulk INSERTs): `--platforms`
platforms, each with one manager and `--counsellors / --platforms` counsellors (FTE 0.5 to 1.0);
one journey per open task; `--tasks` open tasks (70 % shared_evaluation assigned to the journey's
counsellor, 20 % assign_counsellor and 10 % notify_cdaph for the managers, 1 in 10 of those claimed
by the manager), due from 30 days ago to 90 days ahead (counsellors) or 20 days ago to 14 days
ahead (managers), so about a quarter are overdue; plus `--done-tasks` completed tasks on the same
journeys (the history an inbox has after a while), assigned to the counsellors. Bearer tokens are
written directly (signing 2,000 users in through argon2 would take minutes).

Then, through the FastAPI app in this process (httpx ASGITransport: no network, no uvicorn; the
app, its dependencies, SQLAlchemy and the database driver are the real ones), one request at a
time, each by a user drawn at random:
* "my open tasks, by due date, first page": GET /api/v1/tasks?assignee=me as a counsellor;
* "overdue": GET /api/v1/tasks?overdue=true as a manager;
after a warm-up of 50 requests each. Prints p50/p95/p99, the SQL statements of one request and the
plan of its task query. PostgreSQL: tests/pg.py's PostgresServer when it exists, else a throw-away
cluster started here (initdb/pg_ctl); ANALYZE is run after seeding (autovacuum would in
production); SQLite is left as the product leaves it (no ANALYZE). Target: p95 < 25 ms on PostgreSQL.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import datetime, timedelta, timezone

TARGET_P95_MS = 25.0
WARMUP = 50


# ------------------------------------------------------------------------------ seeding
def seed(db_url: str, *, platforms: int, counsellors: int, tasks: int, done_tasks: int, rng: random.Random) -> dict:
    from sqlalchemy import insert
    from sqlmodel import Session

    from eaflow.store.db import engine_for
    from eaflow.store.migrate import upgrade
    from eaflow.store.models import Journey, Platform, Task, User

    from bench.harness import chunks, department_codes, issue_tokens, password_hash

    upgrade(db_url)
    engine = engine_for(db_url)
    now = datetime.now(timezone.utc)
    hashed = password_hash()
    platform_rows, user_rows = [], []
    managers: dict[str, str] = {}
    staff: dict[str, list[str]] = {}
    per_platform = max(1, counsellors // platforms)
    for code in department_codes(platforms):
        platform_id = f"pf-{code.lower()}"
        platform_rows.append({"id": platform_id, "department": code, "name": f"Plateforme {code}",
                              "operator": "Opérateur", "mailbox": f"plateforme{code.lower()}@bench.fr",
                              "created_at": now})
        managers[platform_id] = f"u-m-{code.lower()}"
        user_rows.append(_user(managers[platform_id], f"manager{code}@bench.fr", "manager", platform_id, 0.0, hashed, now))
        staff[platform_id] = []
        for n in range(per_platform):
            user_id = f"u-c-{code.lower()}-{n}"
            staff[platform_id].append(user_id)
            user_rows.append(_user(user_id, f"c{n}.{code}@bench.fr", "counsellor", platform_id,
                                   rng.choice((0.5, 0.8, 1.0, 1.0)), hashed, now))

    journey_rows, task_rows = [], []
    platform_ids = list(staff)
    for n in range(tasks):
        platform_id = platform_ids[n % len(platform_ids)]
        journey_id = f"j-{n:08d}"
        roll = rng.random()
        created = now - timedelta(days=rng.uniform(0, 60))
        if roll < 0.7:  # a counsellor's task on a person they accompany
            counsellor = rng.choice(staff[platform_id])
            journey_rows.append(_journey(journey_id, platform_id, "admitted", counsellor, created))
            task_rows.append(_task(f"{journey_id}-t2", journey_id, platform_id, "shared_evaluation",
                                   "Évaluation partagée de la situation", counsellor, "counsellor", created,
                                   now + timedelta(days=rng.uniform(-30, 90))))
        else:  # a manager's task: a person waiting for a counsellor, or a CDAPH to inform
            kind, title = (("assign_counsellor", "Désigner un conseiller") if roll < 0.9
                           else ("notify_cdaph", "Informer la CDAPH de la prescription"))
            claimed = managers[platform_id] if rng.random() < 0.1 else None
            journey_rows.append(_journey(journey_id, platform_id, "waiting_list", None, created))
            task_rows.append(_task(f"{journey_id}-t1", journey_id, platform_id, kind, title, claimed, "manager",
                                   created, now + timedelta(days=rng.uniform(-20, 14))))
    for n in range(done_tasks):  # history: completed tasks of the same journeys
        journey = journey_rows[n % len(journey_rows)]
        counsellor = journey["counsellor_id"] or rng.choice(staff[journey["platform_id"]])
        created = now - timedelta(days=rng.uniform(60, 700))
        row = _task(f"{journey['id']}-d{n}", journey["id"], journey["platform_id"], "shared_evaluation",
                    "Évaluation partagée de la situation", counsellor, "counsellor", created,
                    created + timedelta(days=30))
        row.update(status="done", completed_by=counsellor, completed_at=created + timedelta(days=rng.uniform(1, 40)),
                   outcome={"evaluated_on": created.date().isoformat()}, outcome_hash="0" * 64)
        task_rows.append(row)

    with Session(engine) as session:
        session.execute(insert(Platform), platform_rows)
        for part in chunks(user_rows, 5000):
            session.execute(insert(User), part)
        for part in chunks(journey_rows, 5000):
            session.execute(insert(Journey), part)
        for part in chunks(task_rows, 5000):
            session.execute(insert(Task), part)
        tokens = issue_tokens(session, [u["id"] for u in user_rows])
        session.commit()
    if db_url.startswith("postgresql"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"managers": [tokens[m] for m in managers.values()],
            "counsellors": [tokens[c] for ids in staff.values() for c in ids]}


def _user(user_id, email, role, platform_id, fte, hashed, now) -> dict:
    return {"id": user_id, "email": email, "display_name": email.split("@")[0], "role": role,
            "platform_id": platform_id, "fte": fte, "password_hash": hashed, "active": True, "created_at": now}


def _journey(journey_id, platform_id, state, counsellor_id, created) -> dict:
    return {"id": journey_id, "platform_id": platform_id, "state": state, "channel": "cdaph", "urgent": False,
            "situation": "seeking", "prescribed_on": created.date(), "prescriber_id": None,
            "counsellor_id": counsellor_id, "waiting_key": None, "rqth_permanent": False,
            "admitted_on": created.date() if counsellor_id else None, "created_at": created, "updated_at": created}


def _task(task_id, journey_id, platform_id, kind, title, assignee, role, created, due) -> dict:
    return {"id": task_id, "journey_id": journey_id, "platform_id": platform_id, "kind": kind, "title": title,
            "status": "open", "assignee_id": assignee, "candidate_role": role, "created_at": created,
            "due_at": due, "sort_key": None, "context": None, "outcome": None, "outcome_hash": None,
            "completed_by": None, "completed_at": None, "reminders_sent": 0}


# ------------------------------------------------------------------------------ measuring
async def measure(db_url: str, tokens: dict, requests: int, rng: random.Random) -> dict:
    import httpx

    from eaflow.app import create_app
    from eaflow.settings import Settings

    settings = Settings(database_url=db_url, temporal_address="127.0.0.1:1")  # no Temporal call on these routes
    app = create_app(settings)
    cases = {
        "counsellor: GET /tasks?assignee=me": ("counsellors", {"assignee": "me"}),
        "manager: GET /tasks?overdue=true": ("managers", {"overdue": "true"}),
    }
    results = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for label, (who, params) in cases.items():
            pool = tokens[who]

            async def one() -> tuple[float, int]:
                token = rng.choice(pool)
                started = time.perf_counter()
                response = await http.get("/api/v1/tasks", params=params, headers={"Authorization": f"Bearer {token}"})
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")
                return elapsed, len(response.json()["items"])

            for _ in range(WARMUP):
                await one()
            timings, sizes = [], []
            for _ in range(requests):
                elapsed, size = await one()
                timings.append(elapsed)
                sizes.append(size)
            statements, plan = await explain_one(http, db_url, rng.choice(pool), params)
            results[label] = {"timings": timings, "mean_items": sum(sizes) / len(sizes),
                              "statements": statements, "plan": plan}
    return results


async def explain_one(http, db_url: str, token: str, params: dict) -> tuple[list[str], list[str]]:
    """The SQL statements one request sends, and the plan of its query on the task table."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from eaflow.store.db import engine_for

    engine = engine_for(db_url)
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)  # every engine: the app has its own
    try:
        await http.get("/api/v1/tasks", params=params, headers={"Authorization": f"Bearer {token}"})
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    statements = [" ".join(s.split())[:110] for s, _ in captured]
    main = next(((s, p) for s, p in captured if "FROM task" in s and "LIMIT" in s), None)
    plan: list[str] = []
    if main:
        prefix = "EXPLAIN QUERY PLAN " if db_url.startswith("sqlite") else "EXPLAIN ANALYZE "
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(prefix + main[0], main[1]).fetchall()
        plan = [" | ".join(str(c) for c in row) for row in rows]
    return statements, plan


# ------------------------------------------------------------------------------ main
def run_one(name: str, db_url: str, args, out) -> dict[str, float]:
    from bench.harness import Timer, latency_line, percentile

    rng = random.Random(args.seed)
    timer = Timer()
    tokens = seed(db_url, platforms=args.platforms, counsellors=args.counsellors, tasks=args.tasks,
                  done_tasks=args.done_tasks, rng=rng)
    out(f"\n{name}: seeded {args.platforms} platforms, {len(tokens['counsellors'])} counsellors, "
        f"{args.tasks} open + {args.done_tasks} done tasks in {timer.elapsed:.1f} s")
    results = asyncio.run(measure(db_url, tokens, args.requests, rng))
    p95s = {}
    for label, result in results.items():
        out("  " + latency_line(label, result["timings"]) + f"  ({result['mean_items']:.0f} items per page)")
        p95s[label] = percentile([t * 1000 for t in result["timings"]], 95)
        if args.verbose:
            out(f"    {len(result['statements'])} SQL statements in one request:")
            for statement in result["statements"]:
                out(f"      {statement}")
            out("    plan of its task query:")
            for line in result["plan"]:
                out(f"      {line}")
    return p95s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks (default 100000)")
    parser.add_argument("--done-tasks", type=int, default=100_000, help="completed tasks (default 100000)")
    parser.add_argument("--counsellors", type=int, default=2000)
    parser.add_argument("--platforms", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500, help="measured requests of each kind")
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--seed", type=int, default=35)
    parser.add_argument("--verbose", "-v", action="store_true", help="print the SQL of one request and its plan")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 tasks, 100 requests (< 30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.done_tasks, args.counsellors, args.platforms, args.requests = 5000, 2000, 200, 10, 100

    from bench.harness import machine, postgres_server, workdir

    print(f"machine: {machine()}")
    print(f"command: python -m bench.inbox_latency {' '.join(sys.argv[1:])}")
    print("client: httpx ASGITransport on the FastAPI app in this process, one request at a time")
    wanted = [name.strip() for name in args.db.split(",") if name.strip()]
    verdict = 0
    with workdir("inbox", keep=args.keep) as work:
        if "sqlite" in wanted:
            run_one("SQLite", f"sqlite:///{work / 'eaflow.db'}", args, print)
        if "postgres" in wanted:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                print("\nPostgreSQL: PENDING, no driver in the venv (psycopg[binary]): nothing measured")
                return 1
            server, how = postgres_server()
            print(f"\nPostgreSQL server: {how}")
            server.start()
            try:
                p95s = run_one("PostgreSQL", server.new_database(), args, print)
            finally:
                getattr(server, "close", server.stop)()  # PostgresServer.close() also deletes its files
            worst = max(p95s.values())
            ok = worst < TARGET_P95_MS
            verdict = 0 if ok else 1
            print(f"\nPostgreSQL worst p95 {worst:.2f} ms (target < {TARGET_P95_MS:.0f} ms: {'met' if ok else 'NOT met'})")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
