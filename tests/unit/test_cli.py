"""The `eaflow` CLI on a temporary data dir: db upgrade, platform add, user add, policy show.

Real SQLite files, real argon2 hashes; `main(argv)` in process, and the console script once as
a subprocess to prove the wiring (stdin, exit codes, messages).
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from eaflow import accounts
from eaflow.cli import main
from eaflow.store.db import session_scope
from eaflow.store.migrate import current, head
from eaflow.store.models import Platform, User


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    for name in list(os.environ):
        if name.startswith("EAFLOW_"):
            monkeypatch.delenv(name)
    return tmp_path / "data"


def db_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'eaflow.db').resolve()}"


def run(data_dir: Path, *argv: str, stdin: str | None = None, monkeypatch=None) -> int:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main([*argv, "--data-dir", str(data_dir)])


def users(data_dir: Path) -> list[User]:
    with session_scope(db_url(data_dir)) as session:
        return list(session.exec(select(User)).all())


def add_platform(data_dir: Path, department: str = "35") -> int:
    return main(["platform", "add", "--data-dir", str(data_dir), "--department", department,
                 "--name", f"Plateforme emploi accompagné {department}", "--operator", "Association test"])


def test_db_upgrade_brings_a_new_data_dir_to_head(data_dir, capsys):
    assert main(["--data-dir", str(data_dir), "db", "upgrade"]) == 0
    assert (data_dir / "eaflow.db").is_file()
    assert current(db_url(data_dir)) == head()
    assert "at revision" in capsys.readouterr().out
    # A second upgrade is a no-op.
    assert main(["db", "upgrade", "--data-dir", str(data_dir)]) == 0
    assert main(["db", "current", "--data-dir", str(data_dir)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_platform_add_then_a_duplicate_is_refused(data_dir, capsys):
    assert add_platform(data_dir) == 0
    assert "pf-35" in capsys.readouterr().out
    assert add_platform(data_dir) == 1
    assert "already exists" in capsys.readouterr().err
    with session_scope(db_url(data_dir)) as session:
        platforms = session.exec(select(Platform)).all()
    assert [(p.id, p.department, p.operator) for p in platforms] == [("pf-35", "35", "Association test")]


def test_platform_add_refuses_an_unknown_department(data_dir, capsys):
    assert add_platform(data_dir, "20") == 1  # split into 2A and 2B in 1976
    assert "département" in capsys.readouterr().err
    assert add_platform(data_dir, "2a") == 0
    assert "pf-2a" in capsys.readouterr().out


def test_user_add_reads_the_password_from_stdin_and_hashes_it_with_argon2(data_dir, monkeypatch, capsys):
    add_platform(data_dir)
    code = run(data_dir, "user", "add", "--email", "Conseiller1@Example.FR", "--role", "counsellor",
               "--fte", "0.8", "--name", "Julien Martin", "--password-stdin",
               stdin="un mot de passe solide\n", monkeypatch=monkeypatch)
    assert code == 0
    out = capsys.readouterr().out
    [user] = users(data_dir)
    assert user.id in out and user.id.startswith("u-")
    assert user.email == "conseiller1@example.fr"
    assert (user.role, user.fte, user.platform_id, user.display_name) == ("counsellor", 0.8, "pf-35", "Julien Martin")
    assert user.password_hash.startswith("$argon2id$")
    assert "un mot de passe solide" not in user.password_hash
    assert accounts.verify_password(user.password_hash, "un mot de passe solide")
    assert not accounts.verify_password(user.password_hash, "un mot de passe solide\n")
    assert not accounts.verify_password(user.password_hash, "autre chose")
    assert not accounts.verify_password("not a hash", "autre chose")


def test_user_add_refuses_a_bad_role(data_dir, monkeypatch, capsys):
    add_platform(data_dir)
    with pytest.raises(SystemExit) as exit_info:
        run(data_dir, "user", "add", "--email", "x@example.fr", "--role", "boss", "--password-stdin",
            stdin="un mot de passe solide\n", monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with session_scope(db_url(data_dir)) as session:
        with pytest.raises(ValueError, match="unknown role"):
            accounts.create_user(session, "x@example.fr", "boss", "un mot de passe solide")
    assert users(data_dir) == []


@pytest.mark.parametrize("fte", [None, "0", "1.5", "-0.2"])
def test_a_counsellor_needs_a_full_time_equivalent_between_0_and_1(data_dir, monkeypatch, capsys, fte):
    add_platform(data_dir)
    argv = ["user", "add", "--email", "c@example.fr", "--role", "counsellor", "--password-stdin"]
    if fte is not None:
        argv += ["--fte", fte]
    assert run(data_dir, *argv, stdin="un mot de passe solide\n", monkeypatch=monkeypatch) == 1
    assert "fte" in capsys.readouterr().err
    assert users(data_dir) == []


def test_a_duplicate_email_is_refused_whatever_its_case(data_dir, monkeypatch, capsys):
    add_platform(data_dir)
    argv = ["user", "add", "--email", "manager@example.fr", "--role", "manager", "--password-stdin"]
    assert run(data_dir, *argv, stdin="un mot de passe solide\n", monkeypatch=monkeypatch) == 0
    argv[3] = "Manager@Example.fr"
    assert run(data_dir, *argv, stdin="un autre mot de passe\n", monkeypatch=monkeypatch) == 1
    assert "already exists" in capsys.readouterr().err
    assert len(users(data_dir)) == 1


def test_user_add_needs_a_platform_and_picks_the_only_one(data_dir, monkeypatch, capsys):
    argv = ["user", "add", "--email", "p@example.fr", "--role", "prescriber", "--password-stdin"]
    assert run(data_dir, *argv, stdin="un mot de passe solide\n", monkeypatch=monkeypatch) == 1
    assert "no platform yet" in capsys.readouterr().err
    add_platform(data_dir, "35")
    add_platform(data_dir, "29")
    assert run(data_dir, *argv, stdin="un mot de passe solide\n", monkeypatch=monkeypatch) == 1
    assert "--platform" in capsys.readouterr().err
    assert run(data_dir, *argv, "--platform", "29", stdin="un mot de passe solide\n", monkeypatch=monkeypatch) == 0
    assert [u.platform_id for u in users(data_dir)] == ["pf-29"]


def test_user_add_refuses_a_short_or_missing_password(data_dir, monkeypatch, capsys):
    add_platform(data_dir)
    argv = ["user", "add", "--email", "a@example.fr", "--role", "admin", "--password-stdin"]
    assert run(data_dir, *argv, stdin="court\n", monkeypatch=monkeypatch) == 2
    assert "au moins 12 caractères" in capsys.readouterr().err
    assert run(data_dir, *argv, stdin="azertyuiop123\n", monkeypatch=monkeypatch) == 2
    assert "plus utilisés" in capsys.readouterr().err
    assert run(data_dir, *argv, stdin="", monkeypatch=monkeypatch) == 2
    assert users(data_dir) == []


def test_the_console_script_end_to_end(data_dir):
    """`eaflow` as installed: platform add, user add with the password on stdin, exit codes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EAFLOW_")}
    env["EAFLOW_DATA_DIR"] = str(data_dir)  # from the environment this time, not --data-dir
    cli = [sys.executable, "-m", "eaflow.cli"]

    def eaflow(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *argv], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    done = eaflow("platform", "add", "--department", "35", "--name", "Plateforme 35")
    assert done.returncode == 0, done.stderr
    done = eaflow("user", "add", "--email", "m@example.fr", "--role", "manager", "--password-stdin",
                  stdin="mot de passe du manager\n")
    assert done.returncode == 0, done.stderr
    assert "u-" in done.stdout
    done = eaflow("user", "add", "--email", "m@example.fr", "--role", "manager", "--password-stdin",
                  stdin="mot de passe du manager\n")
    assert done.returncode == 1
    assert done.stderr.strip() == "eaflow: error: a user with email m@example.fr already exists"
    [user] = users(data_dir)
    assert accounts.verify_password(user.password_hash, "mot de passe du manager")


def test_policy_show_prints_the_defaults_and_a_file_over_them(tmp_path, data_dir, capsys):
    assert main(["policy", "show"]) == 0
    out = capsys.readouterr().out
    assert 'cdaph_reminder_every = "P7D"' in out
    policy = tmp_path / "policy.toml"
    policy.write_text('[intake]\ncdaph_reminder_every = "PT3S"\n')
    assert main(["policy", "show", "--policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert 'cdaph_reminder_every = "PT3S"' in out and 'assignment_due = "P14D"' in out
    policy.write_text('[intake]\ncdaph_reminder_evry = "PT3S"\n')
    assert main(["policy", "show", "--policy", str(policy)]) == 2
    assert "invalid policy file" in capsys.readouterr().err


def test_the_readme_shows_the_national_policy_as_eaflow_policy_show_prints_it():
    """The README's policy block is `eaflow policy show` with no file: a new key cannot go undocumented."""
    from pathlib import Path

    from eaflow.policy import policy_as_toml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = "```toml\n# Effective policy (national defaults). ISO 8601 durations.\n" + policy_as_toml() + "```\n"
    assert block in readme
