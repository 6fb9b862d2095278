"""A guard on the checkout: a test run that leaves a store, a model or MLflow's files in it fails.

The suite writes only to temporary folders and its ignored ``test-output/``. ``pytest_sessionstart`` records
the guarded paths of the run's root folder (what exists, with sizes and modification times);
``pytest_sessionfinish`` compares, names every path created or changed, and turns the run into a failure.
Files a developer had before the run (their own ``smematch.db`` from ``make run``) are fine as long as the
run leaves them as they were. ``tests/conftest.py`` imports the two hooks; ``tests/test_checkout_guard.py``
runs them on a folder of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["GUARDED", "snapshot", "left_behind", "pytest_sessionstart", "pytest_sessionfinish"]

# Names (globs) at the root of the checkout that only the application, never a test, may write.
GUARDED = ("models", "mlartifacts", "mlruns", "mlflow.db*", "smematch.db*", ".smematch-keys", "data/spool",
           "data/sample")
_KEY = pytest.StashKey[dict[str, tuple[int, int]]]()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every guarded file under ``root`` (folders walked): relative path -> (size, modification time in ns)."""
    found: dict[str, tuple[int, int]] = {}
    for pattern in GUARDED:
        for path in root.glob(pattern):
            files = [path] if not path.is_dir() else [Path(folder) / name for folder, _, names in os.walk(path)
                                                     for name in names]
            if path.is_dir():
                found[str(path.relative_to(root)) + "/"] = (0, 0)  # an empty folder left behind counts too
            for file in files:
                try:
                    status = file.stat()
                except OSError:  # removed while we looked
                    continue
                found[str(file.relative_to(root))] = (status.st_size, status.st_mtime_ns)
    return found


def left_behind(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Paths created or changed between the two snapshots."""
    return sorted(path for path, state in after.items() if before.get(path) != state)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_KEY] = snapshot(session.config.rootpath)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_KEY, None)
    if before is None:
        return
    left = left_behind(before, snapshot(session.config.rootpath))
    if not left:
        return
    shown = "\n".join(f"  {path}" for path in left[:20]) + ("\n  ..." if len(left) > 20 else "")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (f"the test run wrote into the checkout {session.config.rootpath} (tests must use tmp_path or "
               f"test-output/):\n{shown}")
    if reporter is not None:
        reporter.write_sep("=", "checkout guard", red=True)
        reporter.write_line(message)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
