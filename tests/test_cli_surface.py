"""The CLI's surface, run for real: ``--version``, choices declared as choices, and help shown as written."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from service.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
BRACKETED = re.compile(r"\[[A-Za-z_.-]+\]")  # a word in square brackets, as TOML table names are written


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group under ``command`` (typer's own click classes), with the words that invoke it."""
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found.extend(_commands(sub, (*path, name)))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _written_help(command: Any) -> str:
    """The help a command's author wrote: its docstring and its parameters' help."""
    return "\n".join([command.help or "", *(getattr(param, "help", None) or "" for param in command.params)])


def test_version_prints_the_package_version_and_exits_0() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"smematch {version('smematch')}"


def test_the_console_script_prints_the_version_too() -> None:
    done = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"smematch {version('smematch')}"


@pytest.mark.parametrize(
    ("arguments", "option", "choices"),
    [
        (["batch", "--out", "out.parquet", "--data", ".", "--engine", "spark"], "--engine", "'local', 'dask'"),
        (["keys", "create", "--role", "superuser"], "--role",
         "'caseworker', 'analyst', 'curator', 'admin', 'provincial'"),
        (["recommend", "--text", "loan", "--lang", "fr"], "--lang", "'en', 'zh'"),
    ],
)
def test_a_value_outside_the_choices_exits_2_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], option: str, choices: str
) -> None:
    monkeypatch.setenv("SMEMATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("SMEMATCH_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output and choices in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "store.db").exists()  # refused before any work


def test_the_choices_are_the_librarys() -> None:
    from matching.explain.reasons import LANGUAGES
    from service.api.schemas import Role as ApiRole
    from service.batch import ENGINES
    from service.commands.batch import Engine
    from service.commands.imports import Dataset
    from service.commands.recommend import Language
    from service.commands.serve import Role
    from service.imports import DATASETS

    assert [engine.value for engine in Engine] == list(ENGINES)
    assert [role.value for role in Role] == [role.value for role in ApiRole]
    assert [language.value for language in Language] == list(LANGUAGES)
    assert [dataset.value for dataset in Dataset] == list(DATASETS)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(path) or "smematch" for path, _ in COMMANDS])
def test_help_is_plain_text_shown_as_written(path: tuple[str, ...], command: Any) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "``" not in result.output
    assert len(COMMANDS) > 20  # every command and group, not the root alone
    for word in BRACKETED.findall(_written_help(command)):
        assert word in result.output


def test_bracketed_words_and_choices_show_in_help() -> None:
    promote = runner.invoke(app, ["promote", "--help"]).output
    assert "[promotion]" in promote
    assert "local|dask" in runner.invoke(app, ["batch", "--help"]).output
    assert "caseworker|analyst|curator|admin|provincial" in runner.invoke(app, ["keys", "create", "--help"]).output
    assert "en|zh" in runner.invoke(app, ["recommend", "--help"]).output
