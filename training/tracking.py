"""The MLflow tracking store: made ready once, reached with a clear error, experiments with our artifact root.

Inputs: a tracking URI (embedded default ``sqlite:///<abs path>/mlflow.db``; any MLflow URI works) and an
artifact root folder (absolute). Outputs: an ``MlflowClient`` and experiment ids.

- ``ensure_store`` creates a fresh SQLite store under an exclusive file lock (``<db>.lock``): several processes
  creating one at once corrupt its schema migration. For other URIs it checks the server answers, with few
  retries and a short timeout, and reports an unreachable one as ``InvalidInput`` (a clear message, exit 2).
- ``experiment_id`` gets or creates an experiment whose artifacts go to ``<artifact root>/<experiment>``
  (not ``./mlruns`` under whatever folder the process runs in).
- Telemetry is off for every process that goes through here.

``mlflow`` is imported inside the functions: importing it costs seconds and the CLI must start fast.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from matching.errors import InvalidInput, Issue

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["quiet_environment", "ensure_store", "client_for", "experiment_id", "git_commit", "sqlite_path"]

_QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}


def quiet_environment() -> None:
    """Telemetry off (and no background logging threads) for this process."""
    for key, value in _QUIET.items():
        os.environ.setdefault(key, value)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not tracking_uri.startswith("sqlite:"):
        return None
    path = tracking_uri.split("sqlite:///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _few_retries() -> Iterator[None]:
    """Short timeouts while probing a server, so an unreachable one fails in seconds, not minutes."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "5"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _unreachable(tracking_uri: str, detail: str) -> InvalidInput:
    return InvalidInput(Issue(column="tracking_uri", expected="a reachable MLflow tracking store",
                              found=f"{tracking_uri} ({detail})"))


def ensure_store(tracking_uri: str, artifact_root: str | Path) -> MlflowClient:
    """Make the store ready (created once, under a lock, for SQLite) and return a client for it."""
    quiet_environment()
    scheme = urlparse(tracking_uri).scheme
    if scheme in ("", "file"):
        raise InvalidInput(Issue(column="tracking_uri", expected="a sqlite:/// URI or a tracking server URL "
                                 "(the ./mlruns file store is refused by MLflow 3.17)", found=tracking_uri))
    if not Path(artifact_root).is_absolute():
        raise InvalidInput(Issue(column="artifact_root", expected="an absolute folder", found=str(artifact_root)))
    Path(artifact_root).mkdir(parents=True, exist_ok=True)
    from mlflow import MlflowClient

    database = sqlite_path(tracking_uri)
    try:
        if database is not None:
            if not database.is_absolute():
                raise _unreachable(tracking_uri, "the database path must be absolute")
            with _file_lock(database.with_name(database.name + ".lock")):
                client = MlflowClient(tracking_uri=tracking_uri)
                client.search_experiments(max_results=1)  # creates and migrates a fresh store
            return client
        with _few_retries():
            client = MlflowClient(tracking_uri=tracking_uri)
            client.search_experiments(max_results=1)
        return client
    except InvalidInput:
        raise
    except Exception as error:  # connection refused, bad credentials, corrupt database...
        raise _unreachable(tracking_uri, f"{type(error).__name__}: {str(error).splitlines()[0][:200]}") from None


def client_for(tracking_uri: str) -> MlflowClient:
    quiet_environment()
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(client: MlflowClient, name: str, artifact_root: str | Path) -> str:
    """The id of experiment ``name``, created with its artifacts under ``artifact_root/name`` if new; on a
    tracking server (``http(s)://``) the server keeps them (its own artifact store), so that every replica and
    every machine reads the same ones."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    remote = urlparse(str(client.tracking_uri)).scheme in ("http", "https")
    location = None if remote else (Path(artifact_root) / name).resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # another process created it first
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return again.experiment_id


def git_commit(folder: str | Path | None = None) -> str:
    """The commit checked out where the code lives ('unknown' outside a git checkout)."""
    where = Path(folder) if folder else Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"
