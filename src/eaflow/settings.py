"""Every setting of eaflow, read from EAFLOW_* environment variables (documented in the README)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str = ""
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "eaflow"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Plateforme emploi accompagné <ne-pas-repondre@eaflow.local>"
    platform_mailbox: str = "plateforme@eaflow.local"
    policy_file: Path | None = None
    public_url: str = "http://127.0.0.1:8000"
    db_busy_timeout_seconds: float = 30.0
    worker_metrics_port: int = 0
    dev_mail_dir: Path | None = field(default=None)
    # HMAC key of the personal signing links (eaflow/signing.py); empty: a key generated once in
    # DATA_DIR/secret_key (the embedded stack). Production sets it, the same for the API and workers.
    secret_key: str = ""
    # Keys replaced by secret_key, still accepted for reading: links already sent, payloads Temporal
    # already holds (eaflow/payload_codec.py). Rotation: README, "What Temporal stores is encrypted".
    previous_secret_keys: tuple[str, ...] = ()

    @property
    def sqlite_default_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'eaflow.db').resolve()}"

    @property
    def db_url(self) -> str:
        return self.database_url or self.sqlite_default_url

    def with_data_dir(self, data_dir: str | Path | None) -> "Settings":
        if not data_dir:
            return self
        return replace(self, data_dir=Path(data_dir))


# Every variable load_settings reads, in its order. Keep it in step with load_settings:
# tests/unit/test_compose.py checks that it is exactly what load_settings reads, that the compose
# file sets nothing else and that the README's settings table documents nothing else.
ENV_VARS: tuple[str, ...] = (
    "EAFLOW_POLICY_FILE",
    "EAFLOW_DEV_MAIL_DIR",
    "EAFLOW_DATA_DIR",
    "EAFLOW_DATABASE_URL",
    "EAFLOW_TEMPORAL_ADDRESS",
    "EAFLOW_TEMPORAL_NAMESPACE",
    "EAFLOW_TASK_QUEUE",
    "EAFLOW_SMTP_HOST",
    "EAFLOW_SMTP_PORT",
    "EAFLOW_SMTP_USER",
    "EAFLOW_SMTP_PASSWORD",
    "EAFLOW_SMTP_STARTTLS",
    "EAFLOW_SMTP_TIMEOUT",
    "EAFLOW_MAIL_FROM",
    "EAFLOW_PLATFORM_MAILBOX",
    "EAFLOW_PUBLIC_URL",
    "EAFLOW_DB_BUSY_TIMEOUT",
    "EAFLOW_WORKER_METRICS_PORT",
    "EAFLOW_SECRET_KEY",
    "EAFLOW_PREVIOUS_SECRET_KEYS",
)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    policy = env.get("EAFLOW_POLICY_FILE")
    dev_mail = env.get("EAFLOW_DEV_MAIL_DIR")
    return Settings(
        data_dir=Path(env.get("EAFLOW_DATA_DIR", "./var")),
        database_url=env.get("EAFLOW_DATABASE_URL", ""),
        temporal_address=env.get("EAFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        temporal_namespace=env.get("EAFLOW_TEMPORAL_NAMESPACE", "default"),
        task_queue=env.get("EAFLOW_TASK_QUEUE", "eaflow"),
        smtp_host=env.get("EAFLOW_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(env.get("EAFLOW_SMTP_PORT", "1025")),
        smtp_user=env.get("EAFLOW_SMTP_USER", ""),
        smtp_password=env.get("EAFLOW_SMTP_PASSWORD", ""),
        smtp_starttls=_bool(env.get("EAFLOW_SMTP_STARTTLS"), False),
        smtp_timeout_seconds=float(env.get("EAFLOW_SMTP_TIMEOUT", "10")),
        mail_from=env.get("EAFLOW_MAIL_FROM", Settings.mail_from),
        platform_mailbox=env.get("EAFLOW_PLATFORM_MAILBOX", Settings.platform_mailbox),
        policy_file=Path(policy) if policy else None,
        public_url=env.get("EAFLOW_PUBLIC_URL", "http://127.0.0.1:8000"),
        db_busy_timeout_seconds=float(env.get("EAFLOW_DB_BUSY_TIMEOUT", "30")),
        worker_metrics_port=int(env.get("EAFLOW_WORKER_METRICS_PORT", "0")),
        dev_mail_dir=Path(dev_mail) if dev_mail else None,
        secret_key=env.get("EAFLOW_SECRET_KEY", ""),
        previous_secret_keys=tuple(k.strip() for k in env.get("EAFLOW_PREVIOUS_SECRET_KEYS", "").split(",") if k.strip()),
    )
