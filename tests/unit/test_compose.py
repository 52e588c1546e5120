"""The production stack (docker-compose.yml, Dockerfile, deploy/) checked without a Docker engine.

This machine has a `docker` client but no engine and no compose plugin, so nothing here starts a
container. The compose file is parsed with PyYAML and checked against the code it runs: the
services and their images, restart policies and healthchecks, that every `depends_on` waits on a
healthcheck or a one-shot, that every EAFLOW_* variable it sets is one that
`eaflow.settings.load_settings` reads and the README documents, that every command it gives the
eaflow image is accepted by the real CLI parser, and that the files it mounts exist and load.
Where `docker compose` works, `docker compose config` validates the file too.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is in the dev extras: pip install -e '.[dev]'")

from eaflow import settings as settings_module  # noqa: E402
from eaflow.cli import build_parser  # noqa: E402
from eaflow.policy import load_policy  # noqa: E402
from eaflow.settings import ENV_VARS, load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

EXPECTED_SERVICES = {"postgresql", "temporal", "temporal-ui", "migrate", "api", "worker", "mail"}
# The services that run the eaflow image, and the CLI function each one's command must reach.
EAFLOW_COMMANDS = {"migrate": "cmd_db_upgrade", "api": "cmd_api", "worker": "cmd_worker"}
ONE_SHOTS = {"migrate"}
LONG_RUNNING_RESTARTS = {"always", "unless-stopped", "on-failure"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def interpolations(text: str) -> list[tuple[str, str | None, str | None]]:
    """(variable, operator, default) of every `${VAR...}` / `$VAR` compose substitutes (not `$$`)."""
    text = text.replace("$$", "")
    found = []
    for match in _INTERPOLATION.finditer(text):
        if match.group(1):
            found.append((match.group(1), match.group(2), match.group(3)))
        else:
            found.append((match.group(4), None, None))
    return found


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """Compose's substitution with an empty (or given) environment: `${VAR:-default}` -> default."""
    environ = environ or {}

    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3)
        current = environ.get(name)
        if operator in (":-", "-"):
            unset = current is None or (operator == ":-" and current == "")
            return default if unset else current
        if operator in (":?", "?"):
            if current is None or (operator == ":?" and current == ""):
                raise AssertionError(f"${{{name}}} is required: {default}")
            return current
        return current or ""

    parts = value.split("$$")
    return "$".join(_INTERPOLATION.sub(one, part) for part in parts)


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    assert command, "an eaflow service must say which eaflow command it runs"
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def healthcheck_test(service: dict) -> list[str] | None:
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check.get("test")
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    if not test or test[0] == "NONE":
        return None
    return [str(part) for part in test]


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def readme_settings_table() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Settings\s*$(.*?)(?=^## )", text, re.M | re.S)
    assert section, "the README has a '## Settings' section"
    return re.findall(r"^\|\s*`(EAFLOW_[A-Z0-9_]+)`\s*\|", section.group(1), re.M)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


# --------------------------------------------------------------------------------------------
# Services, images, restart policies, healthchecks, dependencies
# --------------------------------------------------------------------------------------------
def test_the_expected_services_exist(services):
    assert EXPECTED_SERVICES <= set(services), f"missing: {sorted(EXPECTED_SERVICES - set(services))}"


def test_official_images_and_the_project_image(services):
    assert services["postgresql"]["image"].split(":")[0] == "postgres"
    assert services["postgresql"]["image"].split(":")[1].startswith("16")
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["mail"]["image"].startswith("axllent/mailpit:")
    for name in ("postgresql", "temporal", "temporal-ui", "mail"):
        tag = services[name]["image"].rpartition(":")[2]
        assert tag and tag != "latest", f"{name}: pin the image version"
    images = {services[name]["image"] for name in EAFLOW_COMMANDS}
    assert len(images) == 1, f"the eaflow services run one image, not {images}"
    for name in EAFLOW_COMMANDS:
        build = services[name].get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context in (".", "./"), f"{name} is built from this source tree"


# A subset of the compose specification's keys, enough to catch a misspelt key, which compose
# would refuse (no schema validator is installed here, and no compose plugin to ask).
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "depends_on", "restart",
    "healthcheck", "ports", "expose", "volumes", "stop_grace_period", "stop_signal", "user",
    "working_dir", "labels", "logging", "networks", "deploy", "init", "read_only", "tmpfs",
    "container_name", "profiles", "pull_policy", "secrets", "configs", "extra_hosts",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
DEPENDS_ON_KEYS = {"condition", "restart", "required"}
TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "secrets", "configs"}


def test_only_known_compose_keys(compose, services):
    assert not {key for key in compose if not key.startswith("x-")} - TOP_LEVEL_KEYS
    for name, service in services.items():
        assert not set(service) - SERVICE_KEYS, f"{name}: unknown keys {sorted(set(service) - SERVICE_KEYS)}"
        assert not set(service.get("healthcheck") or {}) - HEALTHCHECK_KEYS, f"{name}: healthcheck keys"
        for target, spec in (service.get("depends_on") or {}).items():
            assert not set(spec or {}) - DEPENDS_ON_KEYS, f"{name} -> {target}: depends_on keys"
    for name in compose.get("volumes") or {}:
        assert any(f"{name}:" in str(volume) for service in services.values() for volume in service.get("volumes") or []), (
            f"volume {name} is declared and never used"
        )


def test_every_service_has_a_restart_policy(services):
    for name, service in services.items():
        restart = service.get("restart")
        # `restart: no` unquoted is the YAML boolean false, which compose rejects: quote it.
        assert isinstance(restart, str), f"{name}: restart policy missing or not a string ({restart!r})"
        if name in ONE_SHOTS:
            assert restart == "no", f"{name} is a one-shot: restart 'no'"
        else:
            assert restart in LONG_RUNNING_RESTARTS, f"{name}: {restart!r}"


def test_long_running_services_have_a_healthcheck(services):
    for name, service in services.items():
        test = healthcheck_test(service)
        if name in ONE_SHOTS:
            assert test is None, f"{name} is a one-shot: the image's api healthcheck must be disabled"
            continue
        assert test is not None, f"{name} has no healthcheck"
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: {test}"


def test_eaflow_healthchecks_use_what_the_slim_image_has(services):
    # python:3.11-slim has neither curl nor wget: the eaflow checks are Python one-liners.
    for name in EAFLOW_COMMANDS.keys() - ONE_SHOTS:
        test = healthcheck_test(services[name])
        assert test[0] == "CMD" and test[1] == "python", f"{name}: {test}"
        compile(test[test.index("-c") + 1], f"<{name} healthcheck>", "exec")
    api_check = healthcheck_test(services["api"])[-1]
    port = command_of(services["api"])[command_of(services["api"]).index("--port") + 1]
    assert f"127.0.0.1:{port}/healthz" in api_check


def test_depends_on_waits_on_healthchecks_or_completed_one_shots(services):
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must give a condition for each service"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = (spec or {}).get("condition")
            assert condition in CONDITIONS, f"{name} -> {target}: condition {condition!r}"
            if condition == "service_healthy":
                assert healthcheck_test(services[target]), f"{name} waits for {target} to be healthy: it has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{name} waits for {target} to complete: make it a one-shot"
            else:
                pytest.fail(f"{name} -> {target}: service_started does not wait for anything; use a healthcheck")


def test_start_order(services):
    def waits_for(name: str) -> dict[str, str]:
        return {target: spec["condition"] for target, spec in (services[name].get("depends_on") or {}).items()}

    assert waits_for("temporal") == {"postgresql": "service_healthy"}
    assert waits_for("migrate") == {"postgresql": "service_healthy"}
    assert waits_for("temporal-ui") == {"temporal": "service_healthy"}
    for name in ("api", "worker"):
        assert waits_for(name)["migrate"] == "service_completed_successfully"
        assert waits_for(name)["temporal"] == "service_healthy"

    # no cycle
    def visit(name: str, seen: tuple[str, ...]) -> None:
        assert name not in seen, f"dependency cycle: {' -> '.join(seen + (name,))}"
        for target in waits_for(name):
            visit(target, seen + (name,))

    for name in services:
        visit(name, ())


def test_the_worker_can_be_scaled(services):
    worker = services["worker"]
    assert "container_name" not in worker, "a container_name forbids --scale worker=N"
    assert not worker.get("ports"), "a published port forbids --scale worker=N"


# --------------------------------------------------------------------------------------------
# Settings: only the EAFLOW_* variables load_settings reads and the README documents
# --------------------------------------------------------------------------------------------
class _RecordingEnv(dict):
    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def get(self, key, default=None):
        self.read.append(key)
        return default

    def __getitem__(self, key):
        self.read.append(key)
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        self.read.append(key)
        return False


def test_env_vars_is_exactly_what_load_settings_reads():
    env = _RecordingEnv()
    load_settings(env)
    read = [name for name in env.read if name.startswith("EAFLOW_")]
    assert sorted(set(read)) == sorted(ENV_VARS), (
        "eaflow.settings.ENV_VARS must list every variable load_settings reads: "
        f"missing {sorted(set(read) - set(ENV_VARS))}, extra {sorted(set(ENV_VARS) - set(read))}"
    )
    assert len(ENV_VARS) == len(set(ENV_VARS))
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    assert set(re.findall(r"""env\.get\(\s*["'](EAFLOW_[A-Z0-9_]+)["']""", source)) == set(ENV_VARS)


def test_the_readme_documents_only_real_settings():
    documented = readme_settings_table()
    assert documented, "the README's settings table lists the EAFLOW_* variables"
    unknown = sorted(set(documented) - set(ENV_VARS))
    assert not unknown, f"the README documents variables load_settings does not read: {unknown}"


def compose_eaflow_vars(services: dict, compose_text: str) -> set[str]:
    names = {key for service in services.values() for key in environment_of(service) if key.startswith("EAFLOW")}
    names |= {name for name, _, _ in interpolations(compose_text) if name.startswith("EAFLOW")}
    names |= set(re.findall(r"\bEAFLOW_[A-Z0-9_]+", compose_text.replace("$$", "")))
    return names


def test_compose_sets_only_settings_the_readme_documents(services, compose_text):
    used = compose_eaflow_vars(services, compose_text)
    assert used, "the eaflow services are configured by EAFLOW_* variables"
    assert not sorted(used - set(ENV_VARS)), f"not read by load_settings: {sorted(used - set(ENV_VARS))}"
    documented = set(readme_settings_table())
    assert not sorted(used - documented), f"not in the README's settings table: {sorted(used - documented)}"


def test_dockerfile_sets_only_settings():
    text = DOCKERFILE.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\bEAFLOW_[A-Z0-9_]+", code))
    assert used <= set(ENV_VARS), sorted(used - set(ENV_VARS))


def test_the_eaflow_services_share_one_environment(services, compose, compose_text):
    assert "x-eaflow-env" in compose and re.search(r"^x-eaflow-env:\s*&\S+", compose_text, re.M)
    environments = [environment_of(services[name]) for name in EAFLOW_COMMANDS]
    assert all(env == environments[0] for env in environments), "api, worker and migrate see the same settings"
    assert environments[0] == {key: str(value) for key, value in compose["x-eaflow-env"].items()}


def test_the_compose_environment_loads_into_settings(services):
    env = {key: interpolate(value) for key, value in environment_of(services["api"]).items()}
    settings = load_settings(env)  # int/bool/float parse: a bad value raises here
    url = urlsplit(settings.database_url)
    assert url.scheme == "postgresql+psycopg"
    assert url.hostname == "postgresql" and (url.port or 5432) == 5432
    assert settings.temporal_address == "temporal:7233"
    assert settings.smtp_host == "mail" and settings.smtp_port == 1025
    assert settings.public_url.startswith("http")
    assert settings.policy_file is not None
    assert settings.dev_mail_dir is None, "EAFLOW_DEV_MAIL_DIR is for `eaflow up` only, never production"
    # the namespace the worker polls is the one auto-setup registers
    assert settings.temporal_namespace == interpolate(environment_of(services["temporal"])["DEFAULT_NAMESPACE"])


def test_each_variable_has_one_default(compose_text):
    defaults: dict[str, set[str]] = {}
    for name, operator, default in interpolations(compose_text):
        if operator in (":-", "-"):
            defaults.setdefault(name, set()).add(default)
    conflicting = {name: values for name, values in defaults.items() if len(values) > 1}
    assert not conflicting, f"a variable defaults differently in two places: {conflicting}"


# --------------------------------------------------------------------------------------------
# Commands: each is accepted by the real CLI parser
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EAFLOW_COMMANDS))
def test_each_eaflow_command_is_accepted_by_the_cli(services, name):
    argv = command_of(services[name])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse refused it (and printed why)
        pytest.fail(f"{name}: `eaflow {' '.join(argv)}` is refused by the CLI (exit {exc.code})")
    assert args.func.__name__ == EAFLOW_COMMANDS[name], f"{name}: `eaflow {' '.join(argv)}` runs {args.func.__name__}"
    if name == "api":
        assert args.host == "0.0.0.0", "the api must listen beyond the container's loopback"
        published = [str(port) for port in services["api"].get("ports") or []]
        assert any(port.split(":")[-1] == str(args.port) for port in published), published


# --------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------
def test_dockerfile_installs_the_project_and_runs_eaflow():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")

    entrypoints = [arguments for keyword, arguments in instructions if keyword == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["eaflow"]

    copied = {}
    for keyword, arguments in instructions:
        if keyword == "COPY" and not arguments.startswith("--from"):
            *sources, destination = shlex.split(arguments)
            for source in sources:
                copied[source.rstrip("/")] = destination
    assert "pyproject.toml" in copied and "src" in copied, f"the build copies the project: {copied}"
    project_dir = copied["pyproject.toml"].rstrip("/")
    assert copied["src"].rstrip("/") == f"{project_dir}/src"
    installs = [arguments for keyword, arguments in instructions if keyword == "RUN" and "pip install" in arguments]
    assert installs, "the image installs the project with pip"
    words = shlex.split(installs[0].split("&&")[0])
    assert project_dir in words or f"{project_dir}/" in words, f"pip installs the copied tree: {words}"
    assert "-e" not in words and "--editable" not in words, "a non-editable install carries the package data"
    assert any(word.startswith("psycopg") for word in words), "the image has the PostgreSQL driver"

    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image runs as a non-root user"
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")

    healthchecks = [arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK"]
    assert healthchecks and "/healthz" in healthchecks[-1] and "CMD" in healthchecks[-1]
    command = json.loads(healthchecks[-1][healthchecks[-1].index("CMD") + 3:].strip())
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<HEALTHCHECK>", "exec")


def test_dockerignore_keeps_what_the_build_copies():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "**", "everything is excluded unless named"
    kept = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    assert {"pyproject.toml", "src"} <= kept


# --------------------------------------------------------------------------------------------
# The files the stack mounts
# --------------------------------------------------------------------------------------------
def test_bind_mounts_exist(services):
    for name, service in services.items():
        for source, _ in bind_mounts(service):
            assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


def test_the_policy_file_is_mounted_and_valid(services):
    for name in EAFLOW_COMMANDS:
        env = environment_of(services[name])
        mounts = {target: source for source, target in bind_mounts(services[name])}
        policy_path = env["EAFLOW_POLICY_FILE"]
        assert policy_path in mounts, f"{name}: EAFLOW_POLICY_FILE={policy_path} is not mounted"
    policy = load_policy(ROOT / mounts[policy_path])
    assert policy == load_policy(None), "the shipped policy restates the national defaults"


def test_postgres_is_initialised_with_the_databases_the_stack_uses(services):
    postgresql = services["postgresql"]
    mounts = {target: source for source, target in bind_mounts(postgresql)}
    init_dir = ROOT / mounts["/docker-entrypoint-initdb.d"]
    scripts = sorted(init_dir.glob("*.sh"))
    assert scripts, "an init script creates the eaflow and Temporal databases"
    script = "\n".join(path.read_text() for path in scripts)
    for path in scripts:
        assert path.stat().st_mode & stat.S_IXUSR, f"{path.name} is executable"
        if shutil.which("bash"):
            subprocess.run(["bash", "-n", str(path)], check=True)

    url = urlsplit(interpolate(environment_of(services["api"])["EAFLOW_DATABASE_URL"]))
    database, user = url.path.lstrip("/"), url.username
    assert f"CREATE DATABASE {database} OWNER {user}" in script
    assert f"CREATE ROLE {user} LOGIN" in script

    temporal = environment_of(services["temporal"])
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["SKIP_DB_CREATE"] == "true", "the init script creates Temporal's databases"
    assert f"CREATE ROLE {temporal['POSTGRES_USER']} LOGIN" in script
    for key in ("DBNAME", "VISIBILITY_DBNAME"):
        assert f"CREATE DATABASE {temporal[key]} OWNER {temporal['POSTGRES_USER']}" in script
    # the passwords the init script sets are those the clients use
    postgres_env = environment_of(postgresql)
    assert interpolate(postgres_env["PG_TEMPORAL_PASSWORD"]) == interpolate(temporal["POSTGRES_PWD"])
    assert interpolate(postgres_env["PG_EAFLOW_PASSWORD"]) == url.password


def test_temporal_dynamic_config_is_mounted_and_valid(services):
    temporal = services["temporal"]
    env = environment_of(temporal)
    mounts = {target: source for source, target in bind_mounts(temporal)}
    mounted = ROOT / mounts["/etc/temporal/config/dynamicconfig"]
    relative = env["DYNAMIC_CONFIG_FILE_PATH"].removeprefix("config/dynamicconfig/")
    config = yaml.safe_load((mounted / relative).read_text())
    assert config["frontend.enableUpdateWorkflowExecution"][0]["value"] is True
    assert config["frontend.enableExecuteMultiOperation"][0]["value"] is True


# --------------------------------------------------------------------------------------------
# docker compose itself, where it can run
# --------------------------------------------------------------------------------------------
def _compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    result = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    return result.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="no `docker compose` plugin on this machine")
def test_docker_compose_config_accepts_the_file():
    result = subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
