"""The layout the design card fixes, enforced: service -> training -> matching (matching imports neither), the
engine's pipeline steps each in a module or package of its own under ``matching/``, knowing neither the
orchestrating ``Matcher`` nor table files; the web console imports nothing from the API, and the HTTP side
leaves every query to the store."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "matching": {"service", "training", "fastapi", "starlette", "sqlalchemy", "mlflow", "uvicorn", "typer"},
    "training": {"service", "fastapi", "starlette", "uvicorn"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    offenders = {name: bad for name, bad in offenders.items() if bad}
    assert offenders == {}


# The engine's steps in pipeline order, as ``matching/__init__.py`` lists them.
PIPELINE = ("normalise", "understand", "retrieve", "eligibility", "features", "rank", "explain", "assign")


def step_files(step: str) -> list[Path]:
    module, package = ROOT / "matching" / f"{step}.py", ROOT / "matching" / step
    return [module] if module.is_file() else sorted(package.rglob("*.py"))


@pytest.mark.parametrize("step", PIPELINE)
def test_each_pipeline_step_is_one_module_or_package_listed_in_order(step: str) -> None:
    assert step_files(step), f"matching/{step}.py or matching/{step}/ is missing"
    listed = (ROOT / "matching" / "__init__.py").read_text(encoding="utf-8")
    positions = [listed.index(f"    {name}") for name in PIPELINE]
    assert positions == sorted(positions)


@pytest.mark.parametrize("step", PIPELINE)
def test_pipeline_steps_know_neither_the_matcher_nor_table_files(step: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imports_of(path)
            if name.split(".")[:2] in (["matching", "matcher"], ["matching", "tables"])
        )
        for path in step_files(step)
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_training_holds_no_batch_engine_and_no_importers() -> None:
    """Batch runs live in ``service/batch``, importers of public records in ``service/imports``."""
    names = {path.relative_to(ROOT / "training").parts[0] for path in (ROOT / "training").rglob("*.py")}
    assert not names & {"batch", "sba.py", "kiva.py"}
    assert {"batch", "imports"} <= {path.name for path in (ROOT / "service").iterdir() if path.is_dir()}


def test_importing_the_cli_builds_no_app_engine_or_model() -> None:
    import subprocess
    import sys

    code = "import sys, service.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in {'mlflow', 'uvicorn'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def imports_of(path: Path) -> set[str]:
    """What ``path`` imports, by full dotted name: ``import a.b`` gives ``a.b``, ``from a.b import c`` gives
    ``a.b.c`` (relative imports resolved against the file's package)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_web_console_imports_nothing_from_the_api() -> None:
    """One way between the two: the API's app mounts the console (``service.api.app`` imports ``service.web``);
    the console is the page and its files, and uses nothing of ``service.api``."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imports_of(path) if m == "service.api"
                                            or m.startswith("service.api."))
        for path in (ROOT / "service" / "web").rglob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}
    assert "service.web.mount_console" in imports_of(ROOT / "service" / "api" / "app.py")


def test_the_api_and_the_console_leave_sql_to_the_store() -> None:
    """Every query lives in ``service.store``: the HTTP side takes an ``Engine`` to pass to the store's functions
    and nothing else of SQLAlchemy, neither the store's tables nor its transactions."""
    allowed_sqlalchemy = {"sqlalchemy.Engine"}
    store_internals = {"service.store.models", "service.store.engine", "service.store.reading",
                       "service.store.writing", "service.store.translated_errors"}
    offenders = {}
    for folder in ("api", "web"):
        for path in (ROOT / "service" / folder).rglob("*.py"):
            bad = sorted(name for name in imports_of(path)
                         if (name.split(".")[0] == "sqlalchemy" and name not in allowed_sqlalchemy)
                         or name in store_internals or name.startswith("service.store.models.")
                         or (name.startswith("service.store.") and name.endswith("Row")))
            if bad:
                offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_batch_runs_load_nothing_of_the_http_service() -> None:
    """A batch run (``service.batch``, on a laptop or a Dask worker) imports neither the API nor the console."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imports_of(path) if m.split(".")[:2] in
                                            (["service", "api"], ["service", "web"]))
        for path in (ROOT / "service" / "batch").rglob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}
