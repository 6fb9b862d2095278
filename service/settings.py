"""Settings in one place: environment variables with the prefix ``SMEMATCH_`` (pydantic-settings).

Nothing is built here at import time: ``Settings()`` reads the environment when called, and the app,
the CLI and the tests each make their own and pass it on.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from matching.errors import SmematchError

__all__ = ["Settings", "SettingsError", "load_settings", "project_home"]


class SettingsError(SmematchError):
    """Settings in the environment that are not valid; the message names each variable."""


def project_home() -> Path:
    """The project folder: the checkout this package lives in, else the current directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd().resolve()


def _default_sqlite(name: str) -> str:
    return f"sqlite:///{project_home() / name}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMEMATCH_", env_file=None, extra="ignore")

    home: Path = Field(default_factory=project_home)
    database_url: str = Field(default_factory=lambda: _default_sqlite("smematch.db"))
    data_dir: Path = Field(default_factory=lambda: project_home() / "data" / "sample")
    models_dir: Path = Field(default_factory=lambda: project_home() / "models")
    mlflow_tracking_uri: str = Field(default_factory=lambda: _default_sqlite("mlflow.db"))
    mlflow_artifact_root: Path = Field(default_factory=lambda: project_home() / "mlartifacts")
    mlflow_experiment: str = "smematch"
    registered_model_name: str = "smematch-ranker"
    mlflow_ui_url: str | None = None

    # HTTP service
    host: str = "127.0.0.1"
    port: int = 8000
    docs_enabled: bool = True
    max_body_bytes: int = 64 * 1024
    max_k: int = 50
    # An optional bootstrap admin key (only its hash is kept in memory); keys normally come from `smematch keys`.
    bootstrap_admin_key: str | None = None
    log_level: str = "info"
    # Catalogue refits after edits run in the background, coalesced (``service.api.refits``): after this many
    # seconds without a new edit, and at most this long after the first edit not yet refitted.
    refit_quiet_seconds: float = Field(default=1.0, ge=0, le=3600)
    refit_max_delay_seconds: float = Field(default=5.0, ge=0, le=3600)
    # uvicorn: seconds a client may take to send a request's headers, and to keep an idle connection open.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    keep_alive_seconds: int = Field(default=5, ge=1, le=3600)
    # The recommendation log: how long its write may wait for the store before the rows go to the local spool
    # (``service.store.spool``), and where that spool lives.
    log_write_timeout_seconds: float = 0.5
    spool_dir: Path = Field(default_factory=lambda: project_home() / "data" / "spool")
    # Cases: a rule escalates after this many failed referrals, or after this many days open
    # (``smematch cases escalate-overdue``); 0 turns a rule off.
    case_escalate_after_failed_referrals: int = Field(default=3, ge=0)
    case_escalate_after_days: int = Field(default=0, ge=0)
    # FastAPI's built-in OpenTelemetry spans and metrics (needs providers configured by the operator).
    opentelemetry: bool = False

    @field_validator("max_body_bytes", "max_k", "port", "log_write_timeout_seconds")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"must be positive. Got {value} instead.")
        return value


def load_settings() -> Settings:
    """``Settings()`` from the environment; invalid values raise ``SettingsError`` naming each variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(f"SMEMATCH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        raise SettingsError(f"the settings are not valid: {problems}") from None
