"""The one command line, ``smematch``: serve, generate, import, recommend, train, compare, promote, batch...

Each group of commands lives in ``service/commands/<group>.py`` with a ``register(app)`` function; the
commands are thin: they validate, call one library function and shape its result. Help is plain text
(``rich_markup_mode=None``): what a docstring or an option's help says is shown as written, brackets included.
Options that take one of a fixed set of words are enums, so the help lists the choices and anything else is
refused with exit code 2, naming the option.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version

import typer

__all__ = ["app", "main"]

COMMAND_MODULES = ("data", "imports", "db", "setup", "recommend", "train", "serve", "batch", "evaluate", "cases")

app = typer.Typer(
    name="smematch",
    help="Match small and micro enterprises with the institutions that can solve their problems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def package_version() -> str:
    """The installed package's version (its metadata), or "unknown" when it is not installed."""
    try:
        return version("smematch")
    except PackageNotFoundError:
        return "unknown"


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"smematch {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens (to standard error)."),
    _version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_show_version,
                                  is_eager=True),
) -> None:
    """Match small and micro enterprises with the institutions that can solve their problems."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for _name in COMMAND_MODULES:
    importlib.import_module(f"service.commands.{_name}").register(app)


_quick_exit_allowed = False  # set by a command whose results are all written and closed


def allow_quick_exit() -> None:
    """Called by a command whose results are all written and closed: ``main`` then exits at once on success.

    Such a command needs nothing from the interpreter's teardown of scikit-learn, SciPy, pandas and Arrow, so it
    is skipped. Only ``main`` (the console script) acts on it; a command invoked in-process (tests) returns.
    """
    global _quick_exit_allowed
    _quick_exit_allowed = True


def main() -> None:
    try:
        app()
    except SystemExit as done:
        if done.code not in (0, None) or not _quick_exit_allowed:
            raise
    if _quick_exit_allowed:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
