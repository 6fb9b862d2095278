"""The checkout guard (``tests/checkout_guard.py``): a run that leaves a store, a model or MLflow's files in
the checkout fails, naming them; a run that writes only to tmp_path passes; what was there before may stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

CONFTEST = "from checkout_guard import pytest_sessionfinish, pytest_sessionstart  # noqa: F401\n"


def run_suite(checkout: Path, test: str) -> subprocess.CompletedProcess[str]:
    (checkout / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (checkout / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (checkout / "test_it.py").write_text(test, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(checkout)],
                          cwd=checkout, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("left", ["smematch.db", "mlflow.db", "models/current/manifest.json",
                                  "mlartifacts/1/model.pkl"])
def test_a_run_that_leaves_a_guarded_file_in_the_checkout_fails_and_names_it(tmp_path: Path, left: str) -> None:
    test = ("from pathlib import Path\n\ndef test_writes() -> None:\n"
            f"    target = Path(__file__).parent / {left!r}\n"
            "    target.parent.mkdir(parents=True, exist_ok=True)\n    target.write_text('x')\n")

    result = run_suite(tmp_path, test)

    assert result.returncode == 1, result.stdout
    assert "1 passed" in result.stdout and "checkout guard" in result.stdout and left in result.stdout


def test_a_run_that_writes_only_to_tmp_path_passes_and_older_files_may_stay(tmp_path: Path) -> None:
    (tmp_path / "smematch.db").write_text("a developer's own store")
    test = "def test_writes(tmp_path) -> None:\n    (tmp_path / 'smematch.db').write_text('x')\n"

    result = run_suite(tmp_path, test)

    assert result.returncode == 0, result.stdout
    assert "checkout guard" not in result.stdout
